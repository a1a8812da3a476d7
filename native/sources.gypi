# The one list of native sources, and the flags each instruction set's file is compiled with.
# binding.gyp builds the addon from these variables; nothing else names these files.
{
  'variables': {
    # Compiled with the target's baseline flags only, so the addon loads on any CPU of its architecture.
    'normkit_baseline_sources': [
      'native/core/dispatch.cpp',
      'native/isa/scalar.cpp',
      'native/binding/addon.cpp',
    ],
    # One file per instruction set; each gets its own flags in its own static library (binding.gyp).
    'normkit_avx2_sources': ['native/isa/avx2.cpp'],
    'normkit_avx2_cflags': ['-mavx2', '-mfma'],
    'normkit_avx2_msvc': ['/arch:AVX2'],
    'normkit_avx512_sources': ['native/isa/avx512.cpp'],
    # GCC 12's AVX-512 headers build many intrinsics on _mm512_undefined_ps(), which its own
    # uninitialised-variable warnings then flag at every use (fixed in GCC 13): silence those two only.
    'normkit_avx512_cflags': ['-Wno-uninitialized', '-Wno-maybe-uninitialized', '-mavx512f', '-mavx512dq', '-mavx512vl', '-mavx512bw', '-mavx2', '-mfma'],
    'normkit_avx512_msvc': ['/arch:AVX512'],
    'normkit_neon_sources': ['native/isa/neon.cpp'],
  },
}
