# The documentation names only files that exist (README.md, docs/*.md).
add_test(NAME docs_links COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_links.sh
                                 ${PROJECT_SOURCE_DIR})
set_tests_properties(docs_links PROPERTIES TIMEOUT 30 LABELS "unit")
