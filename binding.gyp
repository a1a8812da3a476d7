# Builds build/Release/normkit.node from the sources listed in native/sources.gypi.
# No -march=native anywhere: the binary must run on other CPUs than the one that built it; the faster
# instruction sets live in their own libraries and are only called after a run-time check (dispatch.cpp).
{
  'includes': ['native/sources.gypi'],
  'target_defaults': {
    'cflags_cc': ['-std=c++17', '-O3', '-fno-math-errno'],
    'cflags_cc!': ['-fno-exceptions', '-std=gnu++17', '-std=gnu++1y'],
    'xcode_settings': {'CLANG_CXX_LANGUAGE_STANDARD': 'c++17', 'GCC_ENABLE_CPP_EXCEPTIONS': 'YES'},
    'msvs_settings': {'VCCLCompilerTool': {'ExceptionHandling': 1}},
  },
  'targets': [
    {
      'target_name': 'normkit',
      'sources': ['<@(normkit_baseline_sources)'],
      'dependencies': ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      'defines': ['NAPI_VERSION=8'],
      'conditions': [
        ['target_arch=="x64"', {'dependencies': ['normkit_avx2', 'normkit_avx512']}],
        ['target_arch=="arm64"', {'dependencies': ['normkit_neon']}],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'normkit_avx2',
          'type': 'static_library',
          'sources': ['<@(normkit_avx2_sources)'],
          'cflags': ['<@(normkit_avx2_cflags)'],
          'xcode_settings': {'OTHER_CFLAGS': ['<@(normkit_avx2_cflags)']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['<@(normkit_avx2_msvc)']}},
        },
        {
          'target_name': 'normkit_avx512',
          'type': 'static_library',
          'sources': ['<@(normkit_avx512_sources)'],
          'cflags': ['<@(normkit_avx512_cflags)'],
          'xcode_settings': {'OTHER_CFLAGS': ['<@(normkit_avx512_cflags)']},
          'msvs_settings': {'VCCLCompilerTool': {'AdditionalOptions': ['<@(normkit_avx512_msvc)']}},
        },
      ],
    }],
    ['target_arch=="arm64"', {
      'targets': [
        {
          'target_name': 'normkit_neon',
          'type': 'static_library',
          'sources': ['<@(normkit_neon_sources)'],
        },
      ],
    }],
  ],
}
