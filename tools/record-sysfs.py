#!/usr/bin/env python3
"""Record what the device resolver reads for the devices of some paths, as fixture lines.

    tools/record-sysfs.py PATH... > tests/fixtures/sysfs/NAME.txt

Prints `link`, `file`, `mount` and `stat` lines (format in src/device/fake_sysfs.rs) for every
sysfs entry, mountinfo line and stat that resolving those paths' st_dev touches, following loop
backing files, stacked devices and overlay layers. Add `expect` lines by hand: they state what the
resolver must answer, which is the point of the fixture.
"""
import os
import sys

SYS = "/sys"
seen = set()
out = []


def emit(line):
    if line not in seen:
        seen.add(line)
        out.append(line)


def rel(path):
    return os.path.relpath(path, SYS)


def record_link(path):
    if os.path.islink(path):
        emit(f"link {rel(path)} {os.readlink(path)}")


def record_file(path):
    if os.path.isfile(path):
        with open(path) as f:
            emit(f"file {rel(path)} {f.read().strip()}")


def record_stat(path):
    st = os.stat(path)
    line = f"stat {path} {os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    if os.path.exists(path) and (st.st_mode & 0o170000) == 0o060000:
        line += f" block {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    emit(line)
    return st


def record_disk_dir(node):
    disk = node
    if os.path.exists(os.path.join(node, "partition")):
        record_file(os.path.join(node, "partition"))
        disk = os.path.dirname(node)
    for name in ("queue/rotational", "removable", "device/vendor", "device/model"):
        record_file(os.path.join(disk, name))
    record_link(os.path.join(disk, "device/driver"))
    backing = os.path.join(disk, "loop/backing_file")
    if os.path.isfile(backing):
        record_file(backing)
        target = open(backing).read().strip().removesuffix(" (deleted)")
        record_dev(record_stat(target).st_dev)
    slaves = os.path.join(disk, "slaves")
    if os.path.isdir(slaves):
        for slave in sorted(os.listdir(slaves)):
            record_link(os.path.join(slaves, slave))
            record_disk_dir(os.path.realpath(os.path.join(slaves, slave)))


def record_dev(dev):
    major, minor = os.major(dev), os.minor(dev)
    if major != 0:
        link = os.path.join(SYS, f"dev/block/{major}:{minor}")
        record_link(link)
        record_disk_dir(os.path.realpath(link))
        return
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[2] != f"0:{minor}":
                continue
            emit(f"mount {line.strip()}")
            after = fields[fields.index("-") + 1:]
            fs_type, source, options = after[0], after[1], after[2] if len(after) > 2 else ""
            if fs_type == "overlay":
                opts = dict(o.split("=", 1) for o in options.split(",") if "=" in o)
                layer = opts.get("upperdir") or opts.get("lowerdir", "").split(":")[0]
                if layer:
                    record_dev(record_stat(layer).st_dev)
            elif source.startswith("/dev/"):
                st = record_stat(source)
                if st.st_rdev:
                    record_dev(st.st_rdev)
            return


for path in sys.argv[1:]:
    st = os.stat(path)
    emit(f"# {path}: st_dev {os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    record_dev(st.st_dev)
print("\n".join(out))
