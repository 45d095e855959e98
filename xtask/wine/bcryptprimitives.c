/* A stand-in bcryptprimitives.dll for Wine 8.0, which lacks one.
 *
 * Rust's std (since 1.78) gets its random seeds from ProcessPrng in
 * bcryptprimitives.dll. Without that DLL, every Rust executable fails to
 * start under Wine 8.0 with status c0000135. This one function forwards to
 * advapi32's SystemFunction036 (RtlGenRandom). `cargo xtask wine` builds it
 * with the mingw-w64 gcc into the Wine prefix's system32; real Windows has
 * its own DLL and never sees this one.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x7fffffff ? 0x7fffffff : (ULONG)length;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
