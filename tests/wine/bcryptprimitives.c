/*
 * bcryptprimitives.dll for Wine 8, which has none: Rust's standard library (1.78 and later) gets
 * its random bytes on Windows from ProcessPrng in bcryptprimitives.dll, and a program that cannot
 * load it does not start. Used only to run the Windows build of azure-oidc-token under Wine in CI
 * (tests/integration/windows.rs, .ci/run); Windows 10 and later have the real DLL.
 *
 * ProcessPrng (documented at
 * https://learn.microsoft.com/en-us/windows/win32/seccng/processprng) fills a buffer with random
 * bytes and always returns TRUE; here it is RtlGenRandom (advapi32's SystemFunction036, which Wine
 * implements from the host's random source,
 * https://learn.microsoft.com/en-us/windows/win32/api/ntsecapi/nf-ntsecapi-rtlgenrandom).
 *
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32
 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    /* RtlGenRandom takes a ULONG length: fill large buffers in pieces. */
    while (length > 0) {
        ULONG piece = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!RtlGenRandom(data, piece)) {
            /* ProcessPrng cannot fail; neither may its stand-in hand back unfilled bytes. */
            ExitProcess(0xC0000001);
        }
        data += piece;
        length -= piece;
    }
    return TRUE;
}
