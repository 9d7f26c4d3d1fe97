# Trainer, checkpoints and the `hpinn run` / `hpinn plot` commands (issue 6).
hp_add_test(test_checkpoint SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_checkpoint.c TIMEOUT 60)
