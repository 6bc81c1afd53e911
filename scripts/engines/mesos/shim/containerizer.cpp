// mesos-containerizer: the `launch` subcommand of Mesos' containerizer helper, which the agent's
// posix launcher runs (from MESOS_LAUNCHER_DIR) to start every executor. The PyPI tarball has no
// such program, but libmesos holds the code (src/slave/containerizer/mesos/launch.cpp), so this
// main does what Mesos' own `src/slave/containerizer/mesos/main.cpp` does through
// `Subcommand::dispatch` for `launch`: build a MesosContainerizerLaunch, load its flags from
// `MESOS_CONTAINERIZER_*` variables and `--flag=value` arguments, and run `execute()` (the pipe
// handshake with the agent, rlimits, working directory, the launch info's environment only, exec
// of the command). Only `launch` is provided: the posix launcher needs nothing else.
//
// No Mesos headers exist here, so, as in launcher.cpp, the entry points are declared by their
// mangled names. The class has no exported constructor (it is inline in launch.hpp), so the object
// is laid out by hand in static storage:
//   MesosContainerizerLaunch = Subcommand (vptr, name, ...; 0xe0 bytes in this build)
//                              + `Flags flags` at kFlagsOffset
//   Flags = its own members, then the virtual base flags::FlagsBase
// `execute()` and `getFlags()` are called directly (not virtually), so the object's own vptr and
// the Subcommand part are never read; `Flags` is built by its real (exported) constructor. The
// offset is checked at run time against what the library's compiled `getFlags()` returns (the
// address of the FlagsBase sub-object) and the virtual-base offset in the constructed Flags'
// vtable: a different libmesos build fails loudly instead of corrupting memory.
//
// Built by install.sh:
//   g++ -O2 containerizer.cpp -L<cache>/lib -lmesos-1.11.0 -Wl,--disable-new-dtags,-rpath,'$ORIGIN/../lib'
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "python-stubs.h"

// stout's Option<T>: `enum State { SOME, NONE } state;` followed by `union { T t; }`.
struct OptionString {
  int state;  // 0 = SOME, 1 = NONE
  std::string value;
};

// mesos::internal::slave::MesosContainerizerLaunch::Flags::Flags() (complete-object constructor:
// it also builds the virtual base FlagsBase and registers every flag).
extern "C" void launch_flags_construct(void* self) __asm__(
    "_ZN5mesos8internal5slave24MesosContainerizerLaunch5FlagsC1Ev");
// flags::FlagsBase* MesosContainerizerLaunch::getFlags() (returns &this->flags as a FlagsBase*).
extern "C" void* launch_get_flags(void* self) __asm__(
    "_ZN5mesos8internal5slave24MesosContainerizerLaunch8getFlagsEv");
// int MesosContainerizerLaunch::execute() (execs the command, or returns/exits with an error).
extern "C" int launch_execute(void* self) __asm__(
    "_ZN5mesos8internal5slave24MesosContainerizerLaunch7executeEv");
// Try<flags::Warnings> flags::FlagsBase::load(const Option<std::string>& prefix, int argc,
//     const char* const* argv, bool unknowns, bool duplicates);
// Try<> is not trivially copyable: returned through a hidden pointer, passed before `this`.
extern "C" void flags_load(void* result, void* self, const OptionString& prefix, int argc,
                           const char* const* argv, bool unknowns, bool duplicates) __asm__(
    "_ZN5flags9FlagsBase4loadERK6OptionINSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEEiPKPKcbb");

// Where `flags` sits in MesosContainerizerLaunch in libmesos 1.11.0 (checked at run time, above).
constexpr std::ptrdiff_t kFlagsOffset = 0xe0;

// Storage for objects whose size this file cannot know: the launch object (Subcommand + Flags:
// well under 1 KiB) and the Try<Warnings> load returns (a few words). Both live until exec.
alignas(64) static unsigned char launch_storage[16384];
alignas(64) static unsigned char load_result[4096];

int main(int argc, char** argv) {
  if (argc < 2 || strcmp(argv[1], "launch") != 0) {
    fprintf(stderr,
            "usage: %s launch [--flag=value ...]\n"
            "  (tars' mesos-containerizer: only `launch`, flags also as MESOS_CONTAINERIZER_*)\n",
            argv[0]);
    return 1;
  }
  unsigned char* flags = launch_storage + kFlagsOffset;
  launch_flags_construct(flags);
  // The FlagsBase sub-object: where the constructed Flags' vtable says (vbase offset at vptr[-3])
  // must be where the library's getFlags() looks for it.
  const long* vptr = *reinterpret_cast<long* const*>(flags);
  unsigned char* base = static_cast<unsigned char*>(launch_get_flags(launch_storage));
  if (flags + vptr[-3] != base) {
    fprintf(stderr,
            "[mesos-containerizer] libmesos layout differs from 1.11.0's: FlagsBase at +%ld, "
            "getFlags() at +%ld (see scripts/engines/mesos/shim/containerizer.cpp)\n",
            static_cast<long>(kFlagsOffset + vptr[-3]), static_cast<long>(base - launch_storage));
    return 1;
  }
  // The subcommand's own argv starts at "launch", as in Subcommand::dispatch.
  const OptionString prefix{0, "MESOS_CONTAINERIZER_"};
  flags_load(load_result, base, prefix, argc - 1, argv + 1, false, false);
  // Try<T> is `Option<T> data; Option<Error> error_;`: data NONE (state 1) means an error.
  if (*reinterpret_cast<int*>(load_result) != 0) {
    fprintf(stderr, "[mesos-containerizer] failed to parse the flags\n");
    return 1;
  }
  return launch_execute(launch_storage);
}
