/*
 * For `cargo check --target x86_64-apple-darwin / aarch64-apple-darwin` on Linux (.ci/run), which has
 * no Apple SDK: ring's build script compiles its C parts for the target, and ring-core/base.h reads
 * this SDK header for the TARGET_OS_* macros. These are the values for macOS (Apple's
 * TargetConditionals.h documents them). The objects are never linked: nothing here is built for
 * running, only type- and lint-checked Rust.
 */
#ifndef AZURE_OIDC_TOKEN_TARGET_CONDITIONALS_STUB
#define AZURE_OIDC_TOKEN_TARGET_CONDITIONALS_STUB
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 1
#define TARGET_OS_IPHONE 0
#define TARGET_OS_IOS 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_TV 0
#define TARGET_OS_VISION 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 0
#endif
