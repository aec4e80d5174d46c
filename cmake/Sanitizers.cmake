# AddressSanitizer + UndefinedBehaviorSanitizer, defined once: the flags of the sanitised test
# targets (fernet_asan_tests, the fuzz replays in tests/fuzz) and of a whole sanitised build
# (scripts/sanitize.sh configures with -DFERNET_SANITIZE_ALL=ON). UBSan does not recover, and
# ASan stops at its first report by default, so any report fails the test that printed it.
set(FERNET_SANITIZER_FLAGS -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)

# One target built sanitised, at -O1 so that the tests finish (the flags come after the build
# type's -O3).
function(fernet_sanitize target)
  target_compile_options(${target} PRIVATE ${FERNET_SANITIZER_FLAGS} -O1 -g)
  target_link_options(${target} PRIVATE ${FERNET_SANITIZER_FLAGS})
endfunction()

# The mpirun tests of a sanitised build (cli.mpi, mpi.data_parallel_np*): memory errors stay
# fatal, leak checking is off. Open MPI's plugins leave about 116 KB at exit in modules that
# MPI_Finalize has unloaded, which no LeakSanitizer suppression can name.
set(FERNET_MPI_SANITIZER_ENV
    "ASAN_OPTIONS=detect_leaks=0:strict_string_checks=1:detect_stack_use_after_return=1")
