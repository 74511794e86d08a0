"""A Windows Job Object per job, so that a job's whole process tree ends with it.

Windows has no process groups to signal: ending a job's process leaves its pool workers
running. A Job Object set to ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`` holds the job's process
and, by inheritance, every process it starts; closing the one handle to it (the driver's)
ends them all: when the job ends, when the driver stops it, and when the driver itself dies
(Windows closes a dead process's handles).

The child is created suspended, put in the job, then resumed, so that not even its first
instruction runs outside the job. Every kernel32 call goes through an object passed in, so
tests run this code with a fake kernel32 on any system (``tests/test_platforms.py``).
"""

from __future__ import annotations

import ctypes
from typing import Any

from ..machine import windows
from ..machine.windows import last_error

#: CreateProcess flag: the process's first thread waits for ResumeThread/NtResumeProcess.
CREATE_SUSPENDED = 0x00000004
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
#: JOBOBJECTINFOCLASS value of JOBOBJECT_EXTENDED_LIMIT_INFORMATION.
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION = 9


class IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]


class BasicLimitInformation(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class ExtendedLimitInformation(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION (144 bytes on 64-bit Windows)."""

    _fields_ = [
        ("BasicLimitInformation", BasicLimitInformation),
        ("IoInfo", IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class KillOnCloseJob:
    """One job's Job Object: ``assign`` its process, ``terminate`` the tree, ``close`` at the end."""

    def __init__(self, kernel32: Any = None) -> None:
        self.k32 = kernel32 if kernel32 is not None else windows.kernel32()
        self.k32.CreateJobObjectW.restype = ctypes.c_void_p
        self.handle = self.k32.CreateJobObjectW(None, None)  # not inheritable: only the driver holds it
        if not self.handle:
            raise OSError(last_error(), "CreateJobObjectW failed")
        info = ExtendedLimitInformation()
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not self.k32.SetInformationJobObject(
            ctypes.c_void_p(self.handle), JOB_OBJECT_EXTENDED_LIMIT_INFORMATION,
            ctypes.byref(info), ctypes.sizeof(info),
        ):
            error = last_error()
            self.close()
            raise OSError(error, "SetInformationJobObject(KILL_ON_JOB_CLOSE) failed")

    def assign(self, process_handle: int) -> None:
        """Put a (suspended) process in the job; its children follow it in."""
        if not self.k32.AssignProcessToJobObject(ctypes.c_void_p(self.handle),
                                                 ctypes.c_void_p(int(process_handle))):
            raise OSError(last_error(), "AssignProcessToJobObject failed")

    def terminate(self, exit_code: int = 1) -> None:
        """End every process in the job now (the job's process and all its workers)."""
        if self.handle:
            self.k32.TerminateJobObject(ctypes.c_void_p(self.handle), exit_code)

    def close(self) -> None:
        """Close the handle: KILL_ON_JOB_CLOSE ends whatever is still running in the job."""
        if self.handle:
            self.k32.CloseHandle(ctypes.c_void_p(self.handle))
            self.handle = None


def resume(pid: int) -> None:
    """Resume a process created with CREATE_SUSPENDED (psutil: NtResumeProcess)."""
    import psutil

    psutil.Process(pid).resume()
