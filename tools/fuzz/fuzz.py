#!/usr/bin/env python3
"""Fuzz campaign for eqaug's input readers (issue 16).

Builds small VALID inputs (MNIST IDX files, image .npy, the authors' Rot .npy layout,
--init-weights folders, copies of the image configs, --set overrides), mutates them, runs
`eqaug run ...` on every mutated case in its own folder with a wall-clock and an
address-space limit, and classifies the outcome (see README.md beside this file).

Standard library only (numpy is not needed: .npy and IDX files are written by hand so
that headers can be broken at will). Deterministic given --seed and the binary.

    python3 tools/fuzz/fuzz.py --binary build/eqaug --cases 1000 --seed 1 \
        --report fuzz-report.json --keep fuzz-keep
"""

import argparse
import array
import ast
import gzip
import json
import os
import random
import re
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KINDS = ["idx", "npy", "rot", "weights", "config", "set"]
OUTCOMES = ["OK-refused", "OK-ran", "OOM-message", "HANG", "CRASH", "INTERNAL",
            "HALF-WRITTEN", "NONFINITE-OK", "BAD-EXIT"]
OK_OUTCOMES = {"OK-refused", "OK-ran"}
# the markers, plus "internal:" (an internal check's wording reaching the user)
INTERNAL_MARKERS = ["internal error", "std::", "basic_string", "json.exception", "stoul", "what():", "internal:"]
MODE_DIRS = {"nom", "aug", "equi", "augpen"}
COMMON = ["--runs", "1", "--epochs", "1", "--threads", "1", "--no-report",
          "--set", "train.metrics=[]"]
NONFINITE = re.compile(r"^[+-]?(nan|inf|infinity)(\(.*\))?$", re.I)

# ----------------------------------------------------------------------------- .npy

NPY_CODES = {  # descr kind+size -> (array typecode or struct char, itemsize)
    "f8": "d", "f4": "f", "f2": "e", "i8": "q", "i4": "i", "i2": "h", "i1": "b",
    "u8": "Q", "u4": "I", "u2": "H", "u1": "B", "b1": "?",
}


def shape_repr(shape):
    if isinstance(shape, str):
        return shape
    if len(shape) == 1:
        return "(%s,)" % shape[0]
    return "(" + ", ".join(str(s) for s in shape) + ")"


def npy_header(descr, shape, fortran=False, version=(1, 0), dict_text=None, pad_newline=True):
    d = dict_text if dict_text is not None else "{'descr': %r, 'fortran_order': %s, 'shape': %s, }" % (
        descr, fortran, shape_repr(shape))
    d = d.encode("latin-1") if isinstance(d, str) else d
    lenbytes = 2 if version[0] == 1 else 4
    pre = 6 + 2 + lenbytes
    total = pre + len(d) + 1
    pad = (64 - total % 64) % 64
    body = d + b" " * pad + (b"\n" if pad_newline else b" ")
    hlen = struct.pack("<H", len(body)) if lenbytes == 2 else struct.pack("<I", len(body))
    return b"\x93NUMPY" + bytes(version) + hlen + body


def pack_values(descr, values):
    """Values (floats) packed as descr, e.g. '<f8', '>i4', '|u1', '<c16'."""
    endian = ">" if descr[0] == ">" else "<"
    kind = descr[1:] if descr[0] in "<>|=" else descr
    if kind in ("c8", "c16"):
        inner = "<f4" if kind == "c8" else "<f8"
        inner = endian + inner[1:]
        flat = []
        for v in values:
            flat.extend((v, 0.0))
        return pack_values(inner, flat)
    code = NPY_CODES.get(kind)
    if code is None:
        return b"\x00" * (len(values) * 8)
    if kind[0] in "iu" or kind == "b1":
        vals = []
        bits = int(kind[1:]) * 8
        lo, hi = (0, 2 ** bits - 1) if kind[0] == "u" else (-2 ** (bits - 1), 2 ** (bits - 1) - 1)
        for v in values:
            try:
                iv = int(v)
            except (ValueError, OverflowError):
                iv = 0
            vals.append(max(lo, min(hi, iv)) if kind != "b1" else bool(iv))
        values = vals
    if code in "e?":
        return struct.pack(endian + "%d%s" % (len(values), code), *values)
    a = array.array(code, values) if not isinstance(values, array.array) or values.typecode != code \
        else values
    if (endian == ">") != (sys.byteorder == "big"):
        a = array.array(code, a)
        a.byteswap()
    return a.tobytes()


def npy_bytes(descr, shape, values, **kw):
    return npy_header(descr, shape, **kw) + pack_values(descr, values)


def read_npy(path):
    """(descr, shape, values as a list or array) of a simple little-endian .npy file."""
    b = Path(path).read_bytes()
    assert b[:6] == b"\x93NUMPY"
    if b[6] == 1:
        hl = struct.unpack("<H", b[8:10])[0]
        off = 10
    else:
        hl = struct.unpack("<I", b[8:12])[0]
        off = 12
    h = ast.literal_eval(b[off:off + hl].decode("latin-1"))
    descr, shape = h["descr"], tuple(h["shape"])
    data = b[off + hl:]
    code = NPY_CODES[descr[1:]]
    if code in "e?":
        n = len(data) // struct.calcsize(code)
        vals = list(struct.unpack("<%d%s" % (n, code), data[:n * struct.calcsize(code)]))
    else:
        vals = array.array(code)
        vals.frombytes(data[:len(data) - len(data) % vals.itemsize])
        if sys.byteorder == "big":
            vals.byteswap()
    return descr, shape, vals


def prod(shape):
    p = 1
    for s in shape:
        p *= s
    return p


# ----------------------------------------------------------------------------- IDX

def idx_bytes(magic, dims, body):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d & 0xFFFFFFFF) for d in dims) + body


# ----------------------------------------------------------------------------- special files

def make_special(path, what):
    """Replace path by a FIFO, a symlink to /dev/zero, a directory, an empty file, a
    symlink loop, a dangling symlink or nothing."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    if what == "fifo":
        os.mkfifo(path)
    elif what == "devzero":
        os.symlink("/dev/zero", path)
    elif what == "directory":
        path.mkdir()
        (path / "x").write_bytes(b"")
    elif what == "empty":
        path.write_bytes(b"")
    elif what == "symlink-loop":
        os.symlink(path.name, path)
    elif what == "dangling-symlink":
        os.symlink("does-not-exist", path)
    elif what == "missing":
        pass
    else:
        raise ValueError(what)


SPECIALS = ["fifo", "devzero", "directory", "empty", "symlink-loop", "dangling-symlink", "missing"]


def copy_tree(src, dst):
    """Copy a case folder, keeping FIFOs (recreated) and symlinks (as links)."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        st = os.lstat(s)
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(d)
        elif stat.S_ISDIR(st.st_mode):
            copy_tree(s, d)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(s, d)


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ----------------------------------------------------------------------------- mutations of bytes

def mutate_bytes(rng, b, header_len):
    """A generic byte-level mutation; returns (new bytes, description)."""
    op = rng.choice(["truncate", "truncate-header", "extend", "flip-header", "flip-body", "zero-body",
                     "drop-middle"])
    if op == "truncate" and len(b) > 1:
        n = rng.randrange(header_len, len(b)) if len(b) > header_len else rng.randrange(len(b))
        return b[:n], "truncate to %d of %d bytes" % (n, len(b))
    if op == "truncate-header":
        n = rng.randrange(0, max(1, header_len))
        return b[:n], "truncate inside the header to %d bytes" % n
    if op == "extend":
        n = rng.choice([1, 7, 64, 4096, 100000])
        return b + bytes(rng.randrange(256) for _ in range(min(n, 4096))) * (n // min(n, 4096)), \
            "append %d junk bytes" % n
    if op == "flip-header":
        bb = bytearray(b)
        k = rng.randrange(1, 4)
        pos = []
        for _ in range(k):
            i = rng.randrange(0, max(1, min(header_len, len(bb))))
            if i < len(bb):
                bb[i] ^= rng.randrange(1, 256)
                pos.append(i)
        return bytes(bb), "flip header bytes at %s" % pos
    if op == "flip-body" and len(b) > header_len:
        bb = bytearray(b)
        k = rng.choice([1, 4, 64])
        for _ in range(k):
            i = rng.randrange(header_len, len(bb))
            bb[i] ^= rng.randrange(1, 256)
        return bytes(bb), "flip %d body bytes" % k
    if op == "zero-body" and len(b) > header_len:
        return b[:header_len] + b"\x00" * (len(b) - header_len), "zero the body"
    if op == "drop-middle" and len(b) > header_len + 16:
        i = rng.randrange(header_len, len(b) - 8)
        return b[:i] + b[i + 8:], "drop 8 bytes at %d" % i
    return b[: len(b) // 2], "truncate to half"


# ----------------------------------------------------------------------------- campaign


class Fuzzer:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.binary)
        self.work = Path(args.workdir or tempfile.mkdtemp(prefix="eqaug-fuzz-")).resolve()
        self.base = self.work / "base"
        self.seed = args.seed
        self.setup_notes = []
        self.fuzzer_errors = []
        self.all_cases = []

    # ------------------------------------------------------------------ base inputs

    def run_quiet(self, cmd, cwd):
        r = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=600)
        return r.returncode, r.stdout.decode("utf-8", "replace")

    def build_base(self):
        rng = random.Random("base-%s" % self.seed)
        self.base.mkdir(parents=True, exist_ok=True)
        # IDX: 600 images 28x28 (a blob on noise), labels 0..9
        n = 600
        imgs = bytearray()
        labels = bytearray()
        for i in range(n):
            lab = i % 10
            labels.append(lab)
            cy, cx = 8 + lab, 6 + 2 * lab
            for r in range(28):
                for c in range(28):
                    v = 220 if (r - cy) ** 2 + (c - cx) ** 2 < 30 else rng.randrange(0, 40)
                    imgs.append(v)
        self.idx_images = idx_bytes(0x00000803, [n, 28, 28], bytes(imgs))
        self.idx_labels = idx_bytes(0x00000801, [n], bytes(labels))
        d = self.base / "idxdata"
        d.mkdir(exist_ok=True)
        (d / "t10k-images-idx3-ubyte").write_bytes(self.idx_images)
        (d / "t10k-labels-idx1-ubyte").write_bytes(self.idx_labels)
        # image .npy: 100 images 16x16 in [0,1], labels int64
        self.npy_n, self.npy_side = 100, 16
        self.npy_images = [round(rng.random(), 6) for _ in range(self.npy_n * 16 * 16)]
        self.npy_labels = [i % 10 for i in range(self.npy_n)]
        # Rot layout from eqaug itself, else our own
        rot = self.base / "rotdata"
        code, out = self.run_quiet([self.binary, "data", "rot", "--scale", "small", "--set",
                                    "data.samples=40", "--save-data", str(rot), "--force"], self.base)
        if code != 0 or not (rot / "shpsimg0.npy").exists():
            self.setup_notes.append("eqaug data rot failed (%d): %s; own Rot files used" % (code, out[-300:]))
            rot.mkdir(exist_ok=True)
            for i in range(40):
                img = [rng.random() for _ in range(64)]
                for name, vals in (("shpsimg", img), ("shpstrig", [float(v > 0.5) for v in img]),
                                   ("shpspent", [float(v <= 0.5) for v in img])):
                    (rot / ("%s%d.npy" % (name, i))).write_bytes(npy_bytes("<f8", (8, 8), vals))
        self.rot_n = len(list(rot.glob("shpsimg*.npy")))
        # weights from a one-step run of each preset
        self.weights = {}
        for preset, extra in (("rot", []), ("trans", ["--set", 'data.dir="%s"' % d])):
            out_dir = self.base / ("wrun-" + preset)
            cmd = [self.binary, "run", preset, "--scale", "small"] + COMMON + [
                "--set", "data.samples=40", "--save-weights", "--modes", "nom", "--force",
                "--out", str(out_dir)] + extra
            code, out = self.run_quiet(cmd, self.base)
            init = out_dir / "nom" / "run-000" / "init"
            if code != 0 or not init.is_dir():
                self.setup_notes.append("weights for %s failed (%d): %s" % (preset, code, out[-300:]))
                continue
            self.weights[preset] = init
        # configs
        self.configs = {}
        for name in ("trans", "rot", "groups"):
            p = Path(self.args.configs) / (name + ".toml")
            if p.exists():
                self.configs[name] = p.read_text()
            else:
                self.setup_notes.append("config %s missing" % p)

    # ------------------------------------------------------------------ helpers for cases

    def preset_cmd(self, preset, samples=None):
        cmd = ["run", preset, "--scale", "small"] + COMMON
        if samples is not None:
            cmd += ["--set", "data.samples=%s" % samples]
        return cmd

    def link_idx(self, dst):
        dst.mkdir(parents=True, exist_ok=True)
        for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
            link_or_copy(self.base / "idxdata" / f, dst / f)

    # ------------------------------------------------------------------ kind: idx

    def case_idx(self, rng, case):
        d = case / "in"
        d.mkdir()
        files = {"images": self.idx_images, "labels": self.idx_labels}
        names = {"images": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte"}
        hlen = {"images": 16, "labels": 8}
        use_gz = rng.random() < 0.4
        target = rng.choice(["images", "images", "labels"])
        desc = []
        op = rng.choice(["bytes", "bytes", "wrong-magic", "huge-count", "dims", "count-mismatch",
                         "labels-range", "gzip", "gzip", "special", "valid"])
        special = None
        gz_op = None
        label_k = 0
        b = files[target]
        if op == "bytes":
            b, m = mutate_bytes(rng, b, hlen[target])
            desc.append(m)
        elif op == "wrong-magic":
            magic = rng.choice([0, 0x00000801 if target == "images" else 0x00000803, 0x00000D03,
                                0x00000804, 0x03080000, 0xFFFFFFFF, 0x00000B03, 0x00000903])
            b = struct.pack(">I", magic) + b[4:]
            desc.append("magic 0x%08x" % magic)
        elif op == "huge-count":
            cnt = rng.choice([0, 601, 1 << 20, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF])
            b = b[:4] + struct.pack(">I", cnt) + b[8:]
            desc.append("declared count %d" % cnt)
        elif op == "dims":
            target = "images"
            b = files["images"]
            r, c = rng.choice([(0, 28), (28, 0), (1, 1), (65535, 65535), (0xFFFFFFFF, 28),
                               (28, 20), (56, 14), (0x10000, 0x10000), (2, 392)])
            b = b[:8] + struct.pack(">II", r, c) + b[16:]
            desc.append("image dims %dx%d" % (r, c))
        elif op == "count-mismatch":
            target = "labels"
            cnt = rng.choice([599, 10, 1, 0])
            b = idx_bytes(0x00000801, [cnt], self.idx_labels[8:8 + cnt])
            desc.append("labels hold %d of 600" % cnt)
        elif op == "labels-range":
            target = "labels"
            bb = bytearray(self.idx_labels)
            v = rng.choice([10, 11, 127, 255])
            k = rng.choice([0, 5, 59, 599])
            bb[8 + k] = v
            b = bytes(bb)
            desc.append("label[%d] = %d" % (k, v))
            label_k = k
        elif op == "gzip":
            use_gz = True
            gz_op = rng.choice(["trailing-garbage", "no-trailer", "truncated", "bad-crc", "not-gzip",
                                "two-members", "bad-isize", "empty-gzip", "header-only"])
            desc.append("gzip " + gz_op)
        elif op == "special":
            special = rng.choice(SPECIALS)
            desc.append("%s is a %s" % (target, special))
        else:
            desc.append("valid (control)")
        # a second generic mutation now and then
        if op in ("wrong-magic", "huge-count", "dims") and rng.random() < 0.25:
            b, m = mutate_bytes(rng, b, hlen[target])
            desc.append(m)
        files = dict(files)
        files[target] = b
        for key in ("images", "labels"):
            data = files[key]
            name = names[key]
            if use_gz:
                gzd = gzip.compress(data, mtime=0)
                if key == target and gz_op:
                    if gz_op == "trailing-garbage":
                        gzd += bytes(rng.randrange(256) for _ in range(rng.choice([1, 8, 100])))
                    elif gz_op == "no-trailer":
                        gzd = gzd[:-8]
                    elif gz_op == "truncated":
                        gzd = gzd[:rng.randrange(10, len(gzd) - 8)]
                    elif gz_op == "bad-crc":
                        gzd = gzd[:-8] + struct.pack("<I", (zlib.crc32(data) ^ 0xDEAD) & 0xFFFFFFFF) + gzd[-4:]
                    elif gz_op == "not-gzip":
                        gzd = data
                    elif gz_op == "two-members":
                        h = len(data) // 2
                        gzd = gzip.compress(data[:h], mtime=0) + gzip.compress(data[h:], mtime=0)
                    elif gz_op == "bad-isize":
                        gzd = gzd[:-4] + struct.pack("<I", 12345)
                    elif gz_op == "empty-gzip":
                        gzd = gzip.compress(b"", mtime=0)
                    elif gz_op == "header-only":
                        gzd = gzd[:10]
                (d / (name + ".gz")).write_bytes(gzd)
            else:
                (d / name).write_bytes(data)
            if key == target and special:
                make_special(d / (name + (".gz" if use_gz else "")), special)
        if use_gz:
            desc.insert(0, "gz")
        samples = rng.choice([60, 60, 60, 600, 601, 1])
        preset = "groups" if rng.random() < 0.1 else "trans"
        args = self.preset_cmd(preset, samples) + ["--data-dir", "in"]
        if op == "labels-range" and label_k >= samples:
            op = "labels-range-unread"  # the bad label lies past the samples read
        expect = "refuse" if op in ("wrong-magic", "count-mismatch", "labels-range") or special \
            or gz_op in ("no-trailer", "truncated", "bad-crc", "bad-isize", "empty-gzip", "header-only") \
            else "any"
        return "%s: %s (%s, samples=%s)" % (target, "; ".join(desc), preset, samples), args, expect

    # ------------------------------------------------------------------ npy mutations shared

    def mutate_npy(self, rng, descr, shape, values, role):
        """A mutated .npy (bytes or a special name) from a valid array; role is 'images',
        'labels', 'img', 'mask' or 'weight'. Returns (bytes or None, special or None, desc)."""
        op = rng.choice(["header", "header", "dtype", "dtype", "shape", "shape", "values", "values",
                         "huge-shape", "overflow-shape", "truncate", "bytes", "special", "fortran", "version"])
        n = prod(shape)
        if op == "overflow-shape" and shape:
            # a first dimension d + 2^k with 2^k * itemsize * prod(rest) = 0 mod 2^64: the byte count
            # computed in 64-bit arithmetic wraps to the real data size
            itemsize = int(re.sub(r"\D", "", descr) or 8)
            rest = itemsize * prod(shape[1:])
            v2 = (rest & -rest).bit_length() - 1 if rest else 0
            ns = (shape[0] + (1 << (64 - v2)),) + tuple(shape[1:])
            if rng.random() < 0.3:
                ns = (1 << (64 - v2),) + tuple(shape[1:])
                return npy_header(descr, ns), None, "overflow shape %s, no data" % shape_repr(ns)
            return npy_header(descr, ns) + pack_values(descr, values), \
                None, "overflow shape %s, the data of %s" % (shape_repr(ns), shape_repr(shape))
        if op == "header":
            h = rng.choice([
                ("bad magic", b"\x93NUMPZ\x01\x00"),
                ("dict not closed", "{'descr': '%s', 'fortran_order': False, 'shape': %s, " % (descr, shape_repr(shape))),
                ("not a dict", "[1, 2, 3]"),
                ("missing shape", "{'descr': '%s', 'fortran_order': False, }" % descr),
                ("missing descr", "{'fortran_order': False, 'shape': %s, }" % shape_repr(shape)),
                ("extra key", "{'descr': '%s', 'fortran_order': False, 'shape': %s, 'x': 1, }" % (descr, shape_repr(shape))),
                ("shape not ints", "{'descr': '%s', 'fortran_order': False, 'shape': ('a', 'b'), }" % descr),
                ("shape floats", "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, "(" + ", ".join("%d.0" % s for s in shape) + ("," if len(shape) == 1 else "") + ")")),
                ("shape a list", "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, list(shape))),
                ("shape negative", "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_repr((-1,) + tuple(shape[1:])))),
                ("descr unknown", "{'descr': '<f9', 'fortran_order': False, 'shape': %s, }" % shape_repr(shape)),
                ("descr empty", "{'descr': '', 'fortran_order': False, 'shape': %s, }" % shape_repr(shape)),
                ("descr a list", "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': %s, }" % shape_repr(shape)),
                ("fortran_order a string", "{'descr': '%s', 'fortran_order': 'no', 'shape': %s, }" % (descr, shape_repr(shape))),
                ("python code", "{'descr': __import__('os').system('true'), 'shape': %s, }" % shape_repr(shape)),
                ("NUL in header", "{'descr': '%s',\x00 'fortran_order': False, 'shape': %s, }" % (descr, shape_repr(shape))),
                ("no newline", None),
                ("header length past EOF", b"len"),
                ("header length 0", b"len0"),
                ("empty dict", "{}"),
                ("nested shape", "{'descr': '%s', 'fortran_order': False, 'shape': ((%d,), 1), }" % (descr, shape[0])),
                ("unicode in header", "{'descr': '%s', 'fortran_order': False, 'shape': %s, 'é': 1}" % (descr, shape_repr(shape))),
            ])
            name, text = h
            body = pack_values(descr, values)
            if name == "bad magic":
                b = npy_bytes(descr, shape, values)
                b = text + b[8:]
            elif name == "no newline":
                b = npy_header(descr, shape, pad_newline=False) + body
            elif name == "header length past EOF":
                hb = npy_header(descr, shape)
                b = hb[:8] + struct.pack("<H", 65535) + hb[10:] + body[:100]
            elif name == "header length 0":
                hb = npy_header(descr, shape)
                b = hb[:8] + struct.pack("<H", 0) + hb[10:] + body
            else:
                b = npy_header(descr, shape, dict_text=text.encode("utf-8")) + body
            return b, None, "header: " + name
        if op == "dtype":
            if role == "labels":
                nd = rng.choice(["<f8", "<f4", "<i4", "|u1", ">i8", "<u8", "|b1", "<c16", "<f2", "|O",
                                 "<U8", "|i1", "<i2", "<m8", "<M8[D]"])
            else:
                nd = rng.choice(["<f4", ">f8", ">f4", "<f2", "|u1", "<i4", "|b1", "<c16", "<c8", "|O",
                                 "<U8", "<i8", "|V8", "<f16", "=f8"])
            return npy_bytes(nd, shape, values), None, "dtype %s (was %s)" % (nd, descr)
        if op == "shape":
            if role == "labels":
                ns = rng.choice([(n, 1), (n - 1,), (n + 1,), (), (n // 10, 10), (0,), (1, n)])
            elif role == "weight":
                s = list(shape)
                ch = rng.choice(["swap", "drop", "add", "pm1", "scalar", "flat", "zero"])
                if ch == "swap" and len(s) > 1:
                    s = s[::-1]
                elif ch == "drop":
                    s = s[:-1]
                elif ch == "add":
                    s = s + [1]
                elif ch == "pm1":
                    k = rng.randrange(len(s))
                    s[k] = max(0, s[k] + rng.choice([-1, 1]))
                elif ch == "scalar":
                    s = []
                elif ch == "flat":
                    s = [n]
                elif ch == "zero":
                    s = [0] + s[1:]
                ns = tuple(s)
            elif role == "images":
                k, side = shape[0], shape[1]
                ns = rng.choice([(k, side * side), (k, 1, side, side), (k, side, side + 1),
                                 (k, 0, 0), (0, side, side), (k, 1, 1), (k, side), (k * side, side),
                                 (k, side // 2, side * 2)])
            else:  # rot img/mask (N, N)
                side = shape[0]
                ns = rng.choice([(side, side + 1), (side + 1, side + 1), (1, side, side), (side * side,),
                                 (0, 0), (1, 1), (2 * side, 2 * side), (side // 2, side // 2)])
            m = prod(ns)
            vals = list(values[:m]) + [0.5] * max(0, m - n)
            return npy_bytes(descr, ns, vals), None, "shape %s (was %s)" % (shape_repr(ns), shape_repr(shape))
        if op == "values":
            vals = list(values)
            if role == "labels":
                v = rng.choice([-1, 10, 11, 255, 2 ** 31, 2 ** 62, 2.5, float("nan"), float("inf"), -2 ** 63])
                if isinstance(v, float) or v < -2 ** 62 or v > 2 ** 31:
                    descr2 = "<f8" if isinstance(v, float) else descr
                else:
                    descr2 = descr
                k = rng.randrange(len(vals))
                vals[k] = v
                return npy_bytes(descr2, shape, vals), None, "label[%d] = %r (%s)" % (k, v, descr2)
            v = rng.choice([float("nan"), float("inf"), float("-inf"), -1.0, 2.0, 1e300, -1e300, 3.5e38,
                            1e-310, 1e38])
            how = rng.choice(["one", "all", "tenth"])
            d2 = descr
            if abs(v) > 3.4e38 and descr.endswith("f4") and rng.random() < 0.7:
                d2 = "<f8"  # a float64 file holding a value past float32 (into a float32 run)
            if how == "one":
                vals[rng.randrange(len(vals))] = v
            elif how == "all":
                vals = [v] * len(vals)
            else:
                for i in range(0, len(vals), 10):
                    vals[i] = v
            if d2.endswith("f4"):
                vals = array.array("f", [x if abs(x) < 3.4e38 or x != x else (float("inf") if x > 0 else float("-inf")) for x in vals])
            return npy_bytes(d2, shape, vals), None, "values %r (%s, %s)" % (v, how, d2)
        if op == "huge-shape":
            big = rng.choice([2 ** 31, 2 ** 32 + 1, 2 ** 40, 2 ** 62, 2 ** 63 - 1, 2 ** 63, 2 ** 64, 10 ** 30])
            s = list(shape) or [1]
            k = rng.randrange(len(s))
            s[k] = big
            if rng.random() < 0.3 and len(s) > 1:
                s[(k + 1) % len(s)] = big
            return npy_header(descr, tuple(s)) + pack_values(descr, values[:1000]), None, \
                "huge shape %s" % shape_repr(tuple(s))
        if op == "truncate":
            b = npy_bytes(descr, shape, values)
            hl = len(npy_header(descr, shape))
            cut = rng.choice([hl, hl + 1, hl + (len(b) - hl) // 2, len(b) - 1, hl - 1, 5])
            return b[:cut], None, "truncated to %d of %d bytes" % (cut, len(b))
        if op == "bytes":
            b = npy_bytes(descr, shape, values)
            b2, m = mutate_bytes(rng, b, len(npy_header(descr, shape)))
            return b2, None, "bytes: " + m
        if op == "special":
            sp = rng.choice(SPECIALS)
            return None, sp, "a %s" % sp
        if op == "fortran":
            return npy_bytes(descr, shape, values, fortran=True), None, "fortran_order True"
        # version
        ver = rng.choice([(2, 0), (3, 0), (0, 0), (9, 9), (1, 1)])
        b = npy_bytes(descr, shape, values, version=ver if ver[0] in (2, 3) else (1, 0))
        if ver[0] not in (2, 3):
            b = b[:6] + bytes(ver) + b[8:]
        return b, None, "version %d.%d" % ver

    def write_mutated(self, path, mut):
        b, special, _ = mut
        if special:
            make_special(path, special)
        else:
            Path(path).write_bytes(b)

    # ------------------------------------------------------------------ kind: npy

    def case_npy(self, rng, case):
        d = case / "in"
        d.mkdir()
        n, side = self.npy_n, self.npy_side
        img = ("<f8", (n, side, side), self.npy_images)
        lab = ("<i8", (n,), self.npy_labels)
        target = rng.choice(["images", "images", "labels"])
        (d / "images.npy").write_bytes(npy_bytes(*img))
        (d / "labels.npy").write_bytes(npy_bytes(*lab))
        if rng.random() < 0.05:
            desc = "valid (control)"
        else:
            src = img if target == "images" else lab
            mut = self.mutate_npy(rng, src[0], src[1], src[2], target)
            self.write_mutated(d / (target + ".npy"), mut)
            desc = "%s.npy: %s" % (target, mut[2])
            if rng.random() < 0.1:
                (d / "extra.npy").write_bytes(b"junk")
                desc += "; extra junk file"
        samples = rng.choice([60, 60, 60, 100, 101, 1])
        preset = "groups" if rng.random() < 0.1 else "trans"
        args = self.preset_cmd(preset, samples) + ["--data-npy", "in"]
        return "%s (%s, samples=%s)" % (desc, preset, samples), args, "any"

    # ------------------------------------------------------------------ kind: rot

    def case_rot(self, rng, case):
        d = case / "in"
        d.mkdir()
        src = self.base / "rotdata"
        for f in os.listdir(src):
            link_or_copy(src / f, d / f)
        samples = rng.choice([40, 40, 40, 20, 1, self.rot_n + 1])
        used = min(samples, self.rot_n)
        op = rng.choice(["npy", "npy", "npy", "npy", "delete", "mask-values", "mismatch", "valid"])
        if op == "npy":
            which = rng.choice(["shpsimg", "shpstrig", "shpspent"])
            i = rng.randrange(used) if rng.random() < 0.8 else 0
            p = d / ("%s%d.npy" % (which, i))
            descr, shape, vals = read_npy(p)
            p.unlink()
            mut = self.mutate_npy(rng, descr, shape, vals, "img" if which == "shpsimg" else "mask")
            self.write_mutated(p, mut)
            desc = "%s%d.npy: %s" % (which, i, mut[2])
        elif op == "delete":
            which = rng.choice(["shpsimg", "shpstrig", "shpspent", "all-shpspent"])
            if which == "all-shpspent":
                for f in d.glob("shpspent*.npy"):
                    f.unlink()
                desc = "every shpspent*.npy deleted"
            else:
                i = rng.randrange(used)
                (d / ("%s%d.npy" % (which, i))).unlink()
                desc = "%s%d.npy deleted" % (which, i)
        elif op == "mask-values":
            which = rng.choice(["shpstrig", "shpspent"])
            i = rng.randrange(used)
            p = d / ("%s%d.npy" % (which, i))
            descr, shape, vals = read_npy(p)
            v = rng.choice([0.5, 2.0, -1.0, float("nan"), float("inf"), 255.0])
            vals = list(vals)
            vals[rng.randrange(len(vals))] = v
            p.unlink()
            p.write_bytes(npy_bytes(descr, shape, vals))
            desc = "%s%d.npy: a mask value %r" % (which, i, v)
        elif op == "mismatch":
            i = rng.randrange(used)
            which = rng.choice(["shpsimg", "shpstrig", "shpspent"])
            p = d / ("%s%d.npy" % (which, i))
            s = rng.choice([9, 16, 4, 7])
            p.unlink()
            p.write_bytes(npy_bytes("<f8", (s, s), [float((k * 7) % 3 == 0) for k in range(s * s)]))
            desc = "%s%d.npy is %dx%d, the others 8x8" % (which, i, s, s)
        else:
            desc = "valid (control)"
        args = self.preset_cmd("rot", samples) + ["--data-npy", "in"]
        return "%s (samples=%s)" % (desc, samples), args, "any"

    # ------------------------------------------------------------------ kind: weights

    def case_weights(self, rng, case):
        d = case / "in"
        d.mkdir()
        if not self.weights:
            raise RuntimeError("no base weights")
        src_preset = rng.choice(sorted(self.weights))
        preset = src_preset if rng.random() < 0.9 else rng.choice(["rot", "trans"])
        src = self.weights[src_preset]
        for f in os.listdir(src):
            link_or_copy(src / f, d / f)
        files = sorted(os.listdir(d))
        op = rng.choice(["npy", "npy", "npy", "values", "values", "extra", "missing", "valid"])
        if op in ("npy", "values"):
            f = rng.choice(files)
            descr, shape, vals = read_npy(d / f)
            (d / f).unlink()
            if op == "values":
                v = rng.choice([1e300, -1e300, 1e39, 3.5e38, float("nan"), float("inf"), float("-inf"), 1e30])
                how = rng.choice(["one", "all"])
                vals = list(vals)
                if how == "one":
                    vals[rng.randrange(len(vals))] = v
                else:
                    vals = [v] * len(vals)
                nd = "<f8" if (abs(v) > 3.4e38 and v == v and abs(v) != float("inf")) else descr
                (d / f).write_bytes(npy_bytes(nd, shape, vals))
                desc = "%s: %s value %r (%s)" % (f, how, v, nd)
            else:
                mut = self.mutate_npy(rng, descr, shape, vals, "weight")
                self.write_mutated(d / f, mut)
                desc = "%s: %s" % (f, mut[2])
        elif op == "extra":
            ex = rng.choice(["A%d.npy" % len(files), "A10.npy", "affine0.npy", "junk.txt", ".hidden",
                             "A0.npy.bak", "a0.npy", "sub-dir"])
            if ex == "sub-dir":
                (d / "sub").mkdir()
                (d / "sub" / "A0.npy").write_bytes(b"x")
            elif ex.endswith(".npy") and ex != "A0.npy.bak":
                descr, shape, vals = read_npy(d / files[-1])
                (d / ex).write_bytes(npy_bytes(descr, shape, vals))
            else:
                (d / ex).write_bytes(b"not a weight\n")
            desc = "extra file %s" % ex
        elif op == "missing":
            f = rng.choice(files)
            (d / f).unlink()
            desc = "%s missing" % f
        else:
            desc = "valid (control)"
        extra = []
        if rng.random() < 0.25:
            extra += ["--precision", "f64"]
        if rng.random() < 0.25:
            extra += ["--start", "raw"]
        args = self.preset_cmd(preset, 40) + ["--init-weights", "in"] + extra
        if preset == "trans":
            args += ["--data-dir", "idx"]
            self.link_idx(case / "idx")
        return "%s weights into %s%s: %s" % (src_preset, preset, " " + " ".join(extra) if extra else "", desc), \
            args, "any"

    # ------------------------------------------------------------------ kind: config

    VALUES = ["0", "-1", "1", "2", "-9223372036854775808", "9223372036854775807", "9223372036854775808",
              "18446744073709551616", "4294967296", "2147483648", "4294967295", "1e308", "1e309", "-1e308",
              "1e-320", "nan", "inf", "-inf", "+inf", "0.5", "-0.5", "3.0", "1_000", "0x7fffffff", "0o777",
              "0b101", '"str"', '""', "'lit'", '"""multi\nline"""', "true", "false", "1979-05-27T07:32:00Z",
              "1979-05-27", "07:32:00", "[]", "[1, 2]", '["a", 1]', "{}", "{ a = 1 }", "[[1], [2]]",
              '"\\u0000"', '"/dev/zero"', '"' + "x" * 5000 + '"', "1e2", "100000", "65536", "1025", "1024",
              "-0", "-0.0", "1.5e10", '"nom"', '["nom", "nom"]', '["equiv_error", "bogus"]']

    def case_config(self, rng, case):
        name = rng.choice(sorted(self.configs))
        text = self.configs[name]
        # base tweaks (not mutations): tiny data from the case folder
        text = re.sub(r"data = \{ samples = \d+ \}", "data = { samples = 60 }", text)
        text = re.sub(r'(?m)^dir = ""', 'dir = "idx"', text)
        if name in ("trans", "groups"):
            self.link_idx(case / "idx")
        descs = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            text, m = self.mutate_toml(rng, text)
            descs.append(m)
        path = case / ("cfg-%s.toml" % name)
        path.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
        args = ["run", path.name, "--scale", "small"] + COMMON
        return "%s.toml: %s" % (name, "; ".join(descs)), args, "any"

    def mutate_toml(self, rng, text):
        lines = text.split("\n")
        kv = [i for i, l in enumerate(lines) if re.match(r"^\s*[A-Za-z_][\w.]*\s*=", l)]
        heads = [i for i, l in enumerate(lines) if re.match(r"^\s*\[", l)]
        op = rng.choice(["value"] * 6 + ["delete", "duplicate", "nested-table", "unknown-key", "rename-table",
                                         "duplicate-table", "truncate", "garbage", "empty", "layer", "deep",
                                         "dotted", "group-kind", "array-of-tables"])
        if not text.strip():
            op = "garbage"
        if op == "value":
            # any `key = scalar` occurrence, also inside inline tables
            occ = [m for m in re.finditer(
                r"\b([A-Za-z_]\w*)(\s*=\s*)(\"[^\"\n]*\"|'[^'\n]*'|[-+]?[0-9][\w.+-]*|true|false|\[[^\[\]\n]*\])",
                text)]
            occ = [m for m in occ if not text[text.rfind("\n", 0, m.start()) + 1:m.start()].lstrip().startswith("#")]
            if not occ:
                return text + "\nx = 1\n", "append x = 1"
            m = rng.choice(occ)
            v = rng.choice(self.VALUES)
            return text[:m.start(3)] + v + text[m.end(3):], "%s = %s (was %s)" % (m.group(1), v[:40], m.group(3)[:40])
        if op == "delete" and kv:
            i = rng.choice(kv + heads)
            desc = "delete line '%s'" % lines[i].strip()[:60]
            del lines[i]
            return "\n".join(lines), desc
        if op == "duplicate" and kv:
            i = rng.choice(kv)
            lines.insert(i + 1, lines[i])
            return "\n".join(lines), "duplicate key line '%s'" % lines[i].strip()[:60]
        if op == "duplicate-table" and heads:
            i = rng.choice(heads)
            lines.append(lines[i])
            return "\n".join(lines), "duplicate table %s" % lines[i].strip()
        if op == "nested-table":
            t = rng.choice(["[data.sub]\nx = 1", "[train.aug.more]\ny = 2", "[group.side]\nz = 3",
                            "[model.input.deep]\nw = 1", "[train.equi.x.y.z]\nq = 1", "[scales.small.data]\nsamples = 1",
                            "[reference]\nsampler = 1", "[scales.tiny]\ngroup = { side = 2 }"])
            return text + "\n" + t + "\n", "append table " + t.replace("\n", " ")
        if op == "unknown-key" and heads:
            i = rng.choice(heads)
            lines.insert(i + 1, "bogus_key = 1")
            return "\n".join(lines), "unknown key under %s" % lines[i].strip()
        if op == "rename-table" and heads:
            i = rng.choice(heads)
            old = lines[i].strip()
            lines[i] = re.sub(r"\[([\w.]+)\]", lambda m: "[" + m.group(1)[::-1] + "]", lines[i])
            return "\n".join(lines), "rename table %s -> %s" % (old, lines[i].strip())
        if op == "truncate" and text:
            k = rng.randrange(len(text))
            return text[:k], "truncate at char %d of %d" % (k, len(text))
        if op == "garbage" or not text:
            g = rng.choice(["\x00", "\udcff", "\ufeff", '"unterminated', "[", "key =", "= 1", "\t\r\x0b",
                            "a.b.c.d.e.f = 1", "\x7f", "'''", "[[", "]]"])
            k = rng.randrange(len(text) + 1)
            return text[:k] + g + text[k:], "insert %r at char %d" % (g, k)
        if op == "empty":
            return rng.choice(["", "\n", "# only a comment\n", 'name = "x"\n']), "replace the file by a stub"
        if op == "layer":
            i = rng.choice([i for i, l in enumerate(lines) if "type =" in l] or [0])
            new = rng.choice(['  { type = "linear" },', '  { type = "linear", channels = 0, order = 1, std = 0.1 },',
                              '  { type = "linear", channels = 8, order = 5, std = 0.1 },',
                              '  { type = "linear", channels = 100000, order = 1, std = 0.1 },',
                              '  { type = "bogus" },', '  { },', '  1,', '  { type = "softmax" },',
                              '  { type = "batchnorm", affine = true },', '  { type = "layernorm", eps = 0 },',
                              '  { type = "linear", channels = 8, order = 2, std = 0.1 },',
                              '  { type = "linear", channels = 8, order = 1, std = -1 },',
                              '  { type = "lrelu", slope = nan },'])
            old = lines[i].strip()
            lines[i] = new
            return "\n".join(lines), "layer '%s' -> '%s'" % (old[:50], new.strip())
        if op == "deep":
            depth = rng.choice([100, 10000, 100000])
            form = rng.choice(["array", "inline"])
            v = "[" * depth + "]" * depth if form == "array" else "{a=" * depth + "1" + "}" * depth
            return text + "\n[train.extra]\ndeep = " + v + "\n", "a %s nested %d deep" % (form, depth)
        if op == "dotted":
            t = rng.choice(["data.samples = 5", "train.runs = 2", "group = 1", "model.layers = []",
                            "scales.small.data.samples = 7", "train.aug.passes.x = 1"])
            return t + "\n" + text, "prepend top-level '%s'" % t
        if op == "group-kind":
            k = rng.choice(["symmetric", "generated", "dihedral", "flip", "dihedral_translation", "bogus",
                            "translation_rotation", ""])
            return re.sub(r'kind = "(translation2d|rotation)"', 'kind = "%s"' % k, text, count=1), \
                "first group kind -> %r" % k
        if op == "array-of-tables":
            return text + '\n[[model.layers]]\ntype = "tanh"\n', "append [[model.layers]]"
        k = rng.randrange(len(text) + 1)
        return text[:k], "truncate at char %d" % k

    # ------------------------------------------------------------------ kind: set

    KEYS = ["name", "scale", "group", "group.kind", "group.n", "group.side", "group.acts_on", "group.generators",
            "data", "data.kind", "data.samples", "data.clusters", "data.p", "data.q", "data.classes", "data.dir",
            "data.split", "data.r_min", "data.r_max", "data.shift", "data.input_shift", "data.npy", "model",
            "model.input", "model.input.channels", "model.input.order", "model.loss", "model.layers", "train",
            "train.runs", "train.epochs", "train.lr", "train.seed", "train.chunk", "train.batch", "train.precision",
            "train.init_weights", "train.start", "train.metrics", "train.metric_samples", "train.modes",
            "train.penalty", "train.aug", "train.aug.passes", "train.aug.per", "train.aug.exact", "train.equi",
            "train.equi.update", "train.equi.eval", "reference", "reference.sampler", "reference.rot_aug",
            "reference.nom_distance_on_aug", "reference.double_softmax", "reference.equi_last_layer",
            "reference.nom_aug_norm", "scales", "scales.small", "scales.small.data.samples", "study",
            "study.members", "study.members[0].name", "study.members[0].group.kind", "study.members[3].preset",
            "study.members[4].name", "bogus", "train.bogus", "data.samples.x", "train.aug.passes.deep.er"]
    LAYER_FIELDS = ["type", "channels", "order", "init", "std", "slope", "eps", "affine", "bogus"]
    BAD_KEYS = ["data..samples", ".data", "data.", "", "data samples", '"data".samples', "data.'samples'",
                "model.layers[", "model.layers[]", "model.layers[x]", "model.layers[-1].channels",
                "model.layers[18446744073709551616].channels", "model.layers[1e3]", "model.layers[0][0]",
                "model.layers[0].channels[0]", "model.layers[99]", "model.layers[8]", "model.layers[10]",
                "train[0]", "group.side.x", "data.samples[0]", "model.layers[ 0 ].std", "model.layers[0x1].std",
                "model.layers[007].std", "study.members[99].name", "model.layers[-0].order"]
    SET_EXTRA = ["", "=", "[", "{", '"unterminated', "bare words", "1 2", "# comment", "[1,", "{a=}",
                 "1e99999", "0.0.0", "--", "\\x00", "truE", "NaN", "Infinity", "09", "1__0", "+"]

    TYPED = {
        "int": ["group.side", "group.n", "data.samples", "data.classes", "model.input.channels", "model.input.order",
                "train.runs", "train.epochs", "train.seed", "train.chunk", "train.batch", "train.metric_samples",
                "train.aug.passes", "model.layers[0].channels", "model.layers[2].channels", "model.layers[0].order",
                "model.layers[2].order", "study.members[1].group.side"],
        "num": ["data.p", "data.q", "data.r_min", "data.r_max", "data.shift", "data.input_shift", "train.lr",
                "train.penalty", "model.layers[0].std", "model.layers[1].slope", "model.layers[6].eps",
                "model.layers[8].eps", "model.layers[3].std"],
        "enum": {"group.kind": ["symmetric", "translation2d", "translation_x", "rotation", "translation_rotation",
                                "flip", "dihedral", "dihedral_translation", "generated"],
                 "data.kind": ["sbm", "images", "shapes"], "data.split": ["test", "train"],
                 "model.loss": ["bce", "cross_entropy"], "train.precision": ["f32", "f64"],
                 "train.start": ["projected", "raw"], "train.aug.per": ["sample", "batch"],
                 "train.equi.update": ["orbit", "dense"], "train.equi.eval": ["auto", "structured", "dense"],
                 "model.layers[1].type": ["linear", "lrelu", "layernorm", "sigmoid", "tanh", "batchnorm", "affine",
                                          "softmax"],
                 "model.layers[9].type": ["sigmoid", "softmax", "tanh", "batchnorm"],
                 "model.layers[0].init": ["normal", "normal_per_channel_pair"],
                 "group.acts_on": ["pixels", "nodes"]},
        "bool": ["reference.sampler", "reference.rot_aug", "reference.nom_distance_on_aug",
                 "reference.double_softmax", "reference.equi_last_layer", "reference.nom_aug_norm",
                 "train.aug.exact", "model.layers[6].affine"],
        "list": {"train.modes": ['["nom"]', '["augpen"]', '["equi", "nom"]', '["nom", "aug", "equi", "augpen"]'],
                 "train.metrics": ['["equiv_error"]', "[]"],
                 "group.generators": ["[[1, 0]]", "[[0]]", "[[0, 1, 2]]", "[]", "[[1, 2, 0], [0, 2, 1]]"],
                 "data.clusters": ["[5, 5]", "[1]", "[0, 3]", "[64]"]},
    }
    INTS = ["0", "1", "2", "3", "5", "7", "64", "1024", "1025", "4096", "65535", "2147483647", "2147483648",
            "4294967296", "9007199254740993", "9223372036854775807", "-1", "-9223372036854775808"]
    NUMS = ["0.0", "-0.0", "1e-300", "5e-324", "1e300", "1.7976931348623157e308", "nan", "inf", "-inf", "-1.0",
            "0.5", "1.0", "2.0", "1e10", "3"]

    def typed_set(self, rng):
        kind = rng.choice(["int", "int", "num", "num", "enum", "bool", "list"])
        t = self.TYPED[kind]
        if kind == "int":
            return "%s=%s" % (rng.choice(t), rng.choice(self.INTS))
        if kind == "num":
            return "%s=%s" % (rng.choice(t), rng.choice(self.NUMS))
        if kind == "bool":
            return "%s=%s" % (rng.choice(t), rng.choice(["true", "false"]))
        key = rng.choice(sorted(t))
        v = rng.choice(t[key])
        return "%s=%s" % (key, v if kind == "list" else '"%s"' % v)

    def case_set(self, rng, case):
        preset = rng.choice(["trans", "trans", "rot", "rot", "groups"])
        args = self.preset_cmd(preset, 60)
        if preset != "rot":
            args += ["--set", 'data.dir="idx"']
            self.link_idx(case / "idx")
        descs = []
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            r = rng.random()
            if r < 0.4:
                s = self.typed_set(rng)
                args += ["--set", s]
                descs.append("--set " + s[:80])
                continue
            r = (r - 0.4) / 0.6
            if r < 0.55:
                key = rng.choice(self.KEYS)
            elif r < 0.8:
                idx = rng.choice([0, 1, 2, 3, 7, 8, 9, 10, 99, 4294967296])
                key = "model.layers[%d].%s" % (idx, rng.choice(self.LAYER_FIELDS))
            else:
                key = rng.choice(self.BAD_KEYS)
            value = rng.choice(self.VALUES + self.SET_EXTRA) if rng.random() < 0.9 else None
            s = key if value is None else "%s=%s" % (key, value)
            args += ["--set", s]
            descs.append("--set " + s[:80])
        if rng.random() < 0.2:
            opt = rng.choice([["--threads", "1025"], ["--seed", "18446744073709551616"], ["--seed", "-1"],
                              ["--chunk", "0"], ["--shard", "3/2"], ["--shard", "0/0"], ["--shard", "1/1"],
                              ["--shard", "x"], ["--modes", "nom,nom"], ["--modes", ""], ["--modes", "bogus"],
                              ["--device", "cuda:99"], ["--device", "gpu"], ["--scale", "nonexist"],
                              ["--scale", ""], ["--data-npy", ""], ["--lr", "nan"], ["--lr", "inf"],
                              ["--lr", "1e309"], ["--penalty", "nan"], ["--batch", "0"], ["--aug-passes", "0"],
                              ["--precision", "f16"], ["--equi-eval", "dense"], ["--aug-exact"],
                              ["--modes", "nom,augpen"], ["--epochs", "0"]])
            args += opt
            descs.append(" ".join(opt))
        return "%s: %s" % (preset, " ".join(descs)), args, "any"

    # ------------------------------------------------------------------ running and classifying

    def execute(self, argv, cwd, log_path):
        mem = int(self.args.mem_gib * (1 << 30))

        def preexec():
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 30, 2 << 30))

        t0 = time.monotonic()
        timed_out = False
        with open(log_path, "wb") as log:
            p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 preexec_fn=preexec, start_new_session=True)
            try:
                rc = p.wait(timeout=self.args.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                rc = p.wait()
            except BaseException:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
                raise
        return rc, timed_out, time.monotonic() - t0

    @staticmethod
    def read_tail(log_path, limit=200000):
        with open(log_path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode("utf-8", "replace"), size

    @staticmethod
    def inspect_out(out):
        """Problems of a results folder: (half-written reasons, tmp files, non-finite cells)."""
        half, tmps, nonfinite = [], [], []
        if not out.exists():
            return half, tmps, nonfinite, False
        entries = 0
        for root, dirs, files in os.walk(out):
            entries += len(dirs) + len(files)
            rp = Path(root)
            for dname in dirs:
                if dname in MODE_DIRS and not os.listdir(rp / dname):
                    half.append("empty mode folder %s" % (rp / dname).relative_to(out))
            for fname in files:
                fp = rp / fname
                rel = str(fp.relative_to(out))
                if ".tmp" in fname:
                    tmps.append(rel)
                if fname == "manifest.json":
                    try:
                        m = json.loads(fp.read_text())
                        if not m.get("runs"):
                            half.append("%s has no finished runs" % rel)
                            if m.get("diverged"):
                                half.append("%s records diverged runs" % rel)
                    except Exception as e:  # noqa: BLE001
                        half.append("%s unreadable (%s)" % (rel, type(e).__name__))
                if fname.endswith(".csv") and len(nonfinite) < 5:
                    try:
                        with open(fp, encoding="utf-8", errors="replace") as f:
                            header = f.readline().rstrip("\n").split(",")
                            for ln, line in enumerate(f, 2):
                                cells = line.rstrip("\n").split(",")
                                bad = [i for i, c in enumerate(cells) if NONFINITE.match(c.strip())]
                                if bad:
                                    col = header[bad[0]] if bad[0] < len(header) else "#%d" % bad[0]
                                    nonfinite.append("%s line %d column %s = %s" % (rel, ln, col,
                                                                                   cells[bad[0]].strip()))
                                    break
                    except OSError:
                        pass
        return half, tmps, nonfinite, entries == 0

    def classify(self, rc, timed_out, output, out):
        flags = []
        low = output.lower()
        half, tmps, nonfinite, empty_out = self.inspect_out(out)
        internal = [m for m in INTERNAL_MARKERS if m in low]
        refused = any(l.startswith("eqaug: error:") for l in output.splitlines())
        if timed_out:
            flags.append("HANG")
        elif rc < 0:
            flags.append("CRASH")
        elif rc not in (0, 1, 2, 130, 143):
            flags.append("CRASH")
        if internal:
            flags.append("INTERNAL")
        if (rc != 0 and not timed_out and half) or tmps:
            flags.append("HALF-WRITTEN")
        if rc == 0 and nonfinite:
            flags.append("NONFINITE-OK")
        if not timed_out and rc in (1, 2, 130, 143) and not internal:
            if rc == 1 and "out of memory" in low:
                flags.append("OOM-message")
            elif rc in (1, 2) and refused:
                flags.append("OK-refused")
            else:
                flags.append("BAD-EXIT")
        if rc == 0 and not timed_out and not flags:
            flags.append("OK-ran")
        order = ["HANG", "CRASH", "INTERNAL", "HALF-WRITTEN", "NONFINITE-OK", "BAD-EXIT", "OOM-message",
                 "OK-refused", "OK-ran"]
        primary = min(flags, key=order.index)
        details = {"half_written": half, "tmp_files": tmps, "nonfinite": nonfinite,
                   "internal_markers": internal, "empty_out_dir": empty_out}
        return primary, flags, details

    def write_repro(self, case, argv):
        def q(s):
            return "'" + s.replace("'", "'\\''") + "'"
        text = ("#!/bin/sh\n# reproducer: run from anywhere; EQAUG=path/to/eqaug overrides the binary\n"
                "cd \"$(dirname \"$0\")\" || exit 1\nrm -rf out\n"
                "exec \"${EQAUG:-%s}\" %s\n" % (self.binary, " ".join(q(a) for a in argv)))
        (case / "repro.sh").write_text(text)
        os.chmod(case / "repro.sh", 0o755)

    # ------------------------------------------------------------------ main loop

    def campaign(self):
        args = self.args
        kinds = [k for k in KINDS if k in args.kinds]
        if "weights" in kinds and not self.weights:
            print("note: no base weights, kind 'weights' dropped", file=sys.stderr)
            kinds.remove("weights")
        if "config" in kinds and not self.configs:
            kinds.remove("config")
        keep = Path(args.keep).resolve() if args.keep else None
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        table = {k: {o: 0 for o in OUTCOMES} for k in kinds}
        non_ok, suspicious = [], []
        t_start = time.monotonic()
        for i in range(args.cases):
            kind = kinds[i % len(kinds)]
            rng = random.Random("%s-%d-%s" % (self.seed, i, kind))
            case = self.work / ("case-%05d" % i)
            if case.exists():
                shutil.rmtree(case)
            case.mkdir(parents=True)
            try:
                mutation, cmd_args, expect = getattr(self, "case_" + kind)(rng, case)
            except Exception as e:  # a bug of the fuzzer, not of eqaug: say so and go on
                print("case %5d %-8s fuzzer error building the case: %r" % (i, kind, e), file=sys.stderr)
                self.fuzzer_errors.append({"id": i, "kind": kind, "error": repr(e)})
                shutil.rmtree(case, ignore_errors=True)
                continue
            cmd_args = cmd_args + ["--out", "out"]
            argv = [self.binary] + cmd_args
            self.write_repro(case, cmd_args)
            log = self.work / ("case-%05d.log" % i)
            rc, timed_out, wall = self.execute(argv, case, log)
            output, size = self.read_tail(log)
            primary, flags, details = self.classify(rc, timed_out, output, case / "out")
            table[kind][primary] += 1
            lines = output.splitlines()
            record = {"id": i, "kind": kind, "mutation": mutation, "outcome": primary, "flags": flags,
                      "exit": rc, "timed_out": timed_out, "wall_s": round(wall, 2),
                      "command": "cd CASE && " + " ".join(
                          a if re.match(r"^[\w./=,:+-]+$", a) else "'" + a.replace("'", "'\\''") + "'"
                          for a in ["eqaug"] + cmd_args),
                      "tail": lines[-8:], "output_bytes": size, "details": {k: v for k, v in details.items() if v}}
            self.all_cases.append({"id": i, "kind": kind, "outcome": primary, "exit": "timeout" if timed_out else rc,
                                   "wall_s": record["wall_s"], "mutation": mutation[:200],
                                   "last": lines[-1][:200] if lines else ""})
            is_bad = primary not in OK_OUTCOMES
            if primary == "OK-ran" and expect == "refuse":
                suspicious.append(record)
                is_bad = True
            if is_bad:
                if keep:
                    dst = keep / ("case-%05d-%s-%s" % (i, kind, primary))
                    if dst.exists():
                        shutil.rmtree(dst)
                    copy_tree(case, dst)
                    shutil.copyfile(log, dst / "output.log")
                    (dst / "case.json").write_text(json.dumps(record, indent=2))
                    record["keep"] = str(dst)
                if primary not in OK_OUTCOMES:
                    non_ok.append(record)
                print("case %5d %-8s %-13s exit %s  %s" % (i, kind, primary if primary != "OK-ran" else "OK-ran?",
                                                           "timeout" if timed_out else rc, mutation[:110]),
                      flush=True)
            if args.verbose and not is_bad:
                print("case %5d %-8s %-13s exit %s  %s" % (i, kind, primary, rc, mutation[:110]), flush=True)
            shutil.rmtree(case, ignore_errors=True)
            os.unlink(log)
            if (i + 1) % 50 == 0:
                print("... %d/%d cases, %.0f s" % (i + 1, args.cases, time.monotonic() - t_start), flush=True)
        wall = time.monotonic() - t_start
        return table, non_ok, suspicious, wall


def format_table(table):
    cols = [o for o in OUTCOMES if any(table[k][o] for k in table)] or OUTCOMES[:2]
    w = max(8, max(len(k) for k in table) + 1)
    lines = ["%-*s" % (w, "kind") + "".join("%14s" % c for c in cols) + "%8s" % "total"]
    totals = {c: 0 for c in cols}
    for k in table:
        row = "%-*s" % (w, k) + "".join("%14d" % table[k][c] for c in cols) + "%8d" % sum(table[k].values())
        for c in cols:
            totals[c] += table[k][c]
        lines.append(row)
    lines.append("%-*s" % (w, "total") + "".join("%14d" % totals[c] for c in cols) + "%8d" % sum(totals.values()))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default="build/eqaug", help="eqaug binary (default: build/eqaug)")
    ap.add_argument("--cases", type=int, default=1000, help="number of cases (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    ap.add_argument("--timeout", type=float, default=60, help="wall-clock limit per case, s (default 60)")
    ap.add_argument("--mem-gib", type=float, default=4, help="RLIMIT_AS per case, GiB (default 4)")
    ap.add_argument("--report", default="fuzz-report.json", help="JSON report (default fuzz-report.json)")
    ap.add_argument("--keep", default="fuzz-keep", help="folder for reproducers of non-OK cases (default fuzz-keep)")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    ap.add_argument("--configs", default=str(REPO / "configs"), help="folder of trans/rot/groups.toml")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a new temp dir, removed at the end)")
    ap.add_argument("--verbose", action="store_true", help="print every case")
    args = ap.parse_args()
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in args.kinds if k not in KINDS]
    if bad:
        ap.error("unknown kinds %s (known: %s)" % (bad, ", ".join(KINDS)))
    if not os.access(args.binary, os.X_OK):
        ap.error("binary %s is not executable" % args.binary)
    fz = Fuzzer(args)
    t0 = time.monotonic()
    try:
        fz.build_base()
        for n in fz.setup_notes:
            print("setup: " + n, file=sys.stderr)
        table, non_ok, suspicious, wall = fz.campaign()
    finally:
        if not args.workdir:
            shutil.rmtree(fz.work, ignore_errors=True)
    text = format_table(table)
    print("\n" + text)
    print("\n%d non-OK case(s); %d OK-ran case(s) whose input should have been refused; %.0f s" % (
        len(non_ok), len(suspicious), time.monotonic() - t0))
    report = {"binary": os.path.abspath(args.binary), "seed": args.seed, "cases": args.cases,
              "timeout_s": args.timeout, "mem_gib": args.mem_gib, "kinds": args.kinds,
              "wall_s": round(time.monotonic() - t0, 1), "setup_notes": fz.setup_notes,
              "fuzzer_errors": fz.fuzzer_errors,
              "table": table, "table_text": text, "non_ok": non_ok, "ran_but_expected_refusal": suspicious,
              "cases": fz.all_cases}
    Path(args.report).write_text(json.dumps(report, indent=2))
    print("report: %s%s" % (args.report, ("; reproducers under " + args.keep) if args.keep else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
