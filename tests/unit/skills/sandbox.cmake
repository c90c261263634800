# skills/sandbox.c (the SafeExecutor's node side) against the real alexclaw-sandbox helper, and the hostile-skill
# corpus in tests/hostile/ (each file says what must happen to it in its first line).
ac_unit_test(test_skills_sandbox ${CMAKE_CURRENT_SOURCE_DIR}/test_sandbox.c LIBS ac_skills)
target_compile_definitions(test_skills_sandbox PRIVATE AC_HOSTILE_DIR="${CMAKE_SOURCE_DIR}/tests/hostile"
                           AC_FAKE_SANDBOX="${CMAKE_CURRENT_SOURCE_DIR}/fake_sandbox.sh")
set_property(TEST test_skills_sandbox APPEND PROPERTY ENVIRONMENT "AC_SANDBOX_BIN=$<TARGET_FILE:alexclaw-sandbox>")
add_dependencies(test_skills_sandbox alexclaw-sandbox)
