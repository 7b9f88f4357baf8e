// fault.h: how the emulation runtimes report a fault the real device or toolchain would raise.
//
//   xpiler_fault("out-of-bounds write to buffer %s[%ld]", name, index);
//
// prints "XPILER_FAULT: <message>" on one line of stderr and ends the process with _exit(86)
// (docs/oracle-contract.md: the oracle turns that into xpiler.EmulationFault).  Header-only,
// safe to include from several headers and translation units.
#ifndef XPILER_FAULT_H
#define XPILER_FAULT_H

#include <cstdarg>
#include <cstdio>
#include <unistd.h>

#define XPILER_FAULT_STATUS 86

__attribute__((noreturn, format(printf, 1, 2), unused)) static void xpiler_fault(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; ++p)  // one line
        if (*p == '\n') *p = ' ';
    fflush(stdout);
    fprintf(stderr, "XPILER_FAULT: %s\n", msg);
    fflush(stderr);
    _exit(XPILER_FAULT_STATUS);
}

#endif  // XPILER_FAULT_H
