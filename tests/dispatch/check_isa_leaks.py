#!/usr/bin/env python3
"""Checks a FERNET_DISPATCH program for instructions a processor of the x86-64 baseline lacks
outside the code built for AVX2 or AVX-512, i.e. for a copy of a shared function (a standard-
library template, an inline helper) that the linker took from an AVX translation unit and that
baseline code would call: such a program dies with SIGILL on an older processor, which no test
on a newer one would show.

    check_isa_leaks.py PROGRAM

A function may use AVX-512 if its name holds fernet's namespace isa_avx512 (include/fernet/simd.hpp)
or an xsimd AVX-512 architecture as a template argument; AVX, AVX2, FMA and BMI if it holds
isa_avx2 or an xsimd AVX architecture; anything else must run on the baseline. Reads the
disassembly of GNU objdump. Exit 1 with the offending functions listed."""
import re
import subprocess
import sys

AVX512_OPERAND = re.compile(r"%zmm|%k[0-7]\b|\{%k|%[xy]mm(1[6-9]|2[0-9]|3[01])\b")
AVX_OPERAND = re.compile(r"%ymm")
# Above the baseline without a 'v' prefix: BMI1/2, LZCNT, MOVBE (x86-64-v3), POPCNT and SSE3-4.2
# (x86-64-v2). tzcnt is left out on purpose: g++ emits it for the baseline too (as rep bsf it runs
# everywhere).
ABOVE_BASELINE = re.compile(
    r"^(andn|bextr|blsi|blsmsk|blsr|bzhi|mulx|pdep|pext|rorx|sarx|shlx|shrx|movbe|lzcnt|popcnt|crc32"
    r"|pshufb|palignr|pmaddubsw|phadd\w*|pabs[bwd]|pblendw|pblendvb|blendps|blendpd|blendvps|blendvpd"
    r"|ptest|pmulld|pmin[su][bdw]|pmax[su][bdw]|round[ps][sd]|insertps|extractps|pextr[bdq]|pinsr[bdq]"
    r"|pmov[sz]x\w+|dpp[sd]|hadd[ps][sd]|hsub[ps][sd]|movs[hl]dup|movddup|lddqu|addsubp[sd]|pcmp[eg]tq|pcmpeqq"
    r"|packusdw|pcmp[ei]str[im])$")
PREFIXES = {"rep", "repz", "repnz", "repe", "repne", "lock", "notrack", "bnd", "data16", "cs", "ds", "addr32"}
ALLOWED_AVX512 = re.compile(r"isa_avx512|xsimd::avx512")
ALLOWED_AVX = re.compile(r"isa_avx2|isa_avx512|xsimd::avx|xsimd::fma3<xsimd::avx")


def level_of(mnemonic, operands):
    if AVX512_OPERAND.search(operands):
        return 2
    if (mnemonic.startswith("v") and mnemonic not in ("verr", "verw")) or AVX_OPERAND.search(operands):
        return 1
    if ABOVE_BASELINE.match(mnemonic):
        return 1
    return 0


def main(program):
    dump = subprocess.run(["objdump", "-d", "-C", "--no-show-raw-insn", program], check=True,
                          capture_output=True, text=True).stdout
    header = re.compile(r"^[0-9a-f]+ <(.*)>:$")
    function, worst, first = None, {}, {}
    for line in dump.splitlines():
        m = header.match(line)
        if m:
            function = m.group(1)
            continue
        if function is None or "\t" not in line:
            continue
        words = line.split("\t", 1)[1].split()
        while words and words[0] in PREFIXES:
            words = words[1:]
        if not words:
            continue
        level = level_of(words[0], " ".join(words[1:]))
        if level > worst.get(function, 0):
            worst[function], first[function] = level, line.strip()
        worst.setdefault(function, 0)
    counts = {"isa_avx512": 0, "isa_avx2": 0}
    leaks = []
    for function, level in worst.items():
        for tag in counts:
            if tag in function:
                counts[tag] += 1
        allowed = 2 if ALLOWED_AVX512.search(function) else 1 if ALLOWED_AVX.search(function) else 0
        if level > allowed:
            leaks.append(f"  {function}\n      {['baseline', 'AVX/AVX2/BMI', 'AVX-512'][level]}: {first[function]}")
    print(f"{program}: {len(worst)} functions; {counts['isa_avx2']} in isa_avx2, {counts['isa_avx512']} in isa_avx512")
    if counts["isa_avx2"] == 0 or counts["isa_avx512"] == 0:
        print("FAILED: the program holds no AVX2 or no AVX-512 kernels; is it a FERNET_DISPATCH build?")
        return 1
    if leaks:
        print(f"FAILED: {len(leaks)} functions outside the AVX kernels use instructions above their level:")
        print("\n".join(leaks))
        return 1
    print("ok: every function outside the AVX kernels runs on the x86-64 baseline")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
