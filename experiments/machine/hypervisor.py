"""Which hypervisor runs this machine, if any, and how that was found out.

A VM's cores are shared with guests nobody sees, so a sweep records the hypervisor beside its
topology. Sources, best first: DMI's sys_vendor/product_name, CPUID leaf 0x40000000 (what lscpu
reads), /sys/hypervisor/type (Xen), ``systemd-detect-virt --vm``. Everything is read from roots
and functions passed in, so tests describe fake machines instead of patching.
"""

from __future__ import annotations

import platform
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

# Substring of DMI sys_vendor / product_name (lower case) -> hypervisor name.
_VM_VENDORS: tuple[tuple[str, str], ...] = (
    ("kvm", "KVM"),
    ("qemu", "QEMU"),
    ("vmware", "VMware"),
    ("virtualbox", "VirtualBox"),
    ("innotek", "VirtualBox"),
    ("xen", "Xen"),
    ("amazon ec2", "Amazon EC2"),
    ("google compute engine", "Google Compute Engine"),
    ("parallels", "Parallels"),
    ("bochs", "Bochs"),
    ("bhyve", "bhyve"),
    ("openstack", "OpenStack"),
    ("cloud hypervisor", "Cloud Hypervisor"),
    ("firecracker", "Firecracker"),
)
# DMI names that say which device model emulates the board, not which hypervisor runs the
# guest (QEMU's board under KVM says "QEMU"): CPUID's answer, where there is one, wins.
_DMI_GENERIC = frozenset({"QEMU", "Bochs", "KVM"})
# CPUID leaf 0x40000000: EBX, ECX, EDX spell the hypervisor's vendor id (NULs and spaces
# stripped here). The names lscpu and systemd-detect-virt know.
_CPUID_VENDORS: dict[str, str] = {
    "KVMKVMKVM": "KVM",
    "Linux KVM Hv": "KVM",
    "Microsoft Hv": "Hyper-V",
    "VMwareVMware": "VMware",
    "XenVMMXenVMM": "Xen",
    "TCGTCGTCGTCG": "QEMU",
    "VBoxVBoxVBox": "VirtualBox",
    "prl hyperv": "Parallels",
    "lrpepyh  vr": "Parallels",
    "bhyve bhyve": "bhyve",
    "ACRNACRNACRN": "ACRN",
    "QNXQVMBSQG": "QNX",
    "Jailhouse": "Jailhouse",
    "SRESRESRESRE": "SRE",
    "EVMMEVMMEVMM": "Intel EVMM",
    "OpenBSDVMM58": "OpenBSD vmm",
    "HAXMHAXMHAXM": "HAXM",
    "UnisysSpar64": "Unisys s-Par",
}
# `systemd-detect-virt --vm` ids -> names (ids not listed are kept as they are).
_SYSTEMD_VIRT: dict[str, str] = {
    "kvm": "KVM", "qemu": "QEMU", "bochs": "Bochs", "xen": "Xen", "uml": "UML",
    "vmware": "VMware", "oracle": "VirtualBox", "microsoft": "Hyper-V", "zvm": "z/VM",
    "parallels": "Parallels", "bhyve": "bhyve", "qnx": "QNX", "acrn": "ACRN",
    "powervm": "PowerVM", "apple": "Apple Virtualization", "sre": "SRE",
    "google": "Google Compute Engine", "amazon": "Amazon EC2",
}
#: x86-64 System V: ``void f(uint32_t leaf, uint32_t regs[4])`` running CPUID (subleaf 0).
_CPUID_CODE = bytes((
    0x53,              # push rbx            (callee-saved; CPUID writes it)
    0x89, 0xF8,        # mov  eax, edi       (leaf)
    0x31, 0xC9,        # xor  ecx, ecx       (subleaf 0)
    0x0F, 0xA2,        # cpuid
    0x89, 0x06,        # mov  [rsi], eax
    0x89, 0x5E, 0x04,  # mov  [rsi+4], ebx
    0x89, 0x4E, 0x08,  # mov  [rsi+8], ecx
    0x89, 0x56, 0x0C,  # mov  [rsi+12], edx
    0x5B,              # pop  rbx
    0xC3,              # ret
))

#: Reads CPUID: leaf -> (eax, ebx, ecx, edx), or None where it cannot be read.
CpuidFn = Callable[[int], Optional[tuple[int, int, int, int]]]


def virtualization(
    sysfs: Path,
    flags: Optional[str],
    cpuid: Optional[CpuidFn] = None,
    detect_virt: Optional[Callable[[], Optional[str]]] = None,
) -> dict[str, Any]:
    """Whether this is a VM, and which hypervisor, with where the name came from.

    ``flags`` is /proc/cpuinfo's "flags" line (x86), None where there is none.

    Sources, best first: DMI's sys_vendor/product_name (names the cloud: "Amazon EC2" rather
    than the KVM underneath; a generic board name such as QEMU's yields to CPUID), CPUID leaf
    0x40000000 (what lscpu reads), /sys/hypervisor/type (Xen), ``systemd-detect-virt --vm``.
    """
    dmi = sysfs / "class" / "dmi" / "id"
    text = " ".join(filter(None, (_read(dmi / "sys_vendor"), _read(dmi / "product_name"))))
    dmi_name = next((n for hint, n in _VM_VENDORS if hint in text.lower()), None)
    if dmi_name is None and "microsoft" in text.lower() and "virtual machine" in text.lower():
        dmi_name = "Hyper-V"
    xen = _read(sysfs / "hypervisor" / "type")
    # x86 guests see CPUID's hypervisor bit; without it a cloud vendor in DMI means bare
    # metal (e.g. EC2 *.metal). Elsewhere (ARM) DMI and /sys/hypervisor are all there is,
    # and systemd-detect-virt where it is installed.
    signature = cpuid_name = None
    if flags is not None:
        virtualized = "hypervisor" in flags.split()
        if virtualized and cpuid is not None:
            signature, cpuid_name = hypervisor_from_cpuid(cpuid)
    else:
        virtualized = bool(dmi_name or xen)
    name, source = None, None
    if dmi_name and not (cpuid_name and dmi_name in _DMI_GENERIC):
        name, source = dmi_name, "dmi"
    elif cpuid_name:
        name, source = cpuid_name, "cpuid"
    elif xen:
        name, source = xen.capitalize(), "sysfs"
    if name is None and (virtualized or flags is None) and detect_virt is not None:
        found = detect_virt()
        if found:
            virtualized, name, source = True, found, "systemd-detect-virt"
    if not virtualized:
        return {"virtualized": False, "hypervisor": None, "hypervisor_source": None,
                "hypervisor_cpuid": None}
    return {"virtualized": True, "hypervisor": name, "hypervisor_source": source,
            "hypervisor_cpuid": signature}


def hypervisor_from_cpuid(cpuid: CpuidFn) -> tuple[Optional[str], Optional[str]]:
    """(vendor id of CPUID leaf 0x40000000, hypervisor name), Nones where unreadable.

    Meaningful only in a guest (CPUID.1:ECX bit 31, the cpuinfo flag "hypervisor"). A KVM or
    Xen guest given Hyper-V enlightenments shows "Microsoft Hv" there and its own vendor id
    at 0x40000100, which then names it. An unknown vendor id is its own name.
    """
    signature = _cpuid_vendor(cpuid, 0x40000000)
    if not signature:
        return None, None
    name = _CPUID_VENDORS.get(signature, signature)
    if name == "Hyper-V":
        inner = _cpuid_vendor(cpuid, 0x40000100)
        if inner in ("KVMKVMKVM", "XenVMMXenVMM"):
            name = _CPUID_VENDORS[inner]
    return signature, name


def _cpuid_vendor(cpuid: CpuidFn, leaf: int) -> Optional[str]:
    try:
        regs = cpuid(leaf)
    except Exception:
        return None
    if not regs:
        return None
    raw = struct.pack("<III", regs[1] & 0xFFFFFFFF, regs[2] & 0xFFFFFFFF, regs[3] & 0xFFFFFFFF)
    text = raw.replace(b"\0", b"").decode("ascii", errors="replace").strip()
    return text if text and text.isprintable() else None


def read_cpuid(leaf: int) -> Optional[tuple[int, int, int, int]]:
    """(eax, ebx, ecx, edx) of CPUID ``leaf`` (subleaf 0) on x86-64 Linux; None elsewhere.

    Pure Python cannot issue CPUID, so this runs 20 bytes of machine code from an executable
    anonymous mapping through ctypes (what lscpu does in C). Where the system forbids such a
    mapping (SELinux execmem, PaX), mmap fails and this returns None.
    """
    if not sys.platform.startswith("linux") or struct.calcsize("P") != 8:
        return None
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        import ctypes
        import mmap

        buf = mmap.mmap(-1, mmap.PAGESIZE,
                        prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except (ImportError, OSError, ValueError, AttributeError, TypeError):
        return None
    try:
        buf.write(_CPUID_CODE)
        anchor = ctypes.c_char.from_buffer(buf)
        try:
            fn = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_void_p)(ctypes.addressof(anchor))
            regs = (ctypes.c_uint32 * 4)()
            fn(leaf & 0xFFFFFFFF, ctypes.addressof(regs))
            return (regs[0], regs[1], regs[2], regs[3])
        finally:
            del anchor  # the mapping cannot close while a ctypes object points into it
    except Exception:
        return None
    finally:
        try:
            buf.close()
        except BufferError:
            pass


def systemd_detect_virt() -> Optional[str]:
    """``systemd-detect-virt --vm``'s answer as a name; None when absent, "none" or failing."""
    exe = shutil.which("systemd-detect-virt")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "--vm"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    found = out.stdout.strip()
    if out.returncode != 0 or not found or found == "none":
        return None
    return _SYSTEMD_VIRT.get(found, found)


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text(errors="replace").strip()
    except (OSError, ValueError):
        return None
