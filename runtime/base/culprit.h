/* Who is running: the name of the agent whose firing this thread runs, for
 * the messages of layers below the engine's core (an over-released buffer
 * names the agent that did it). Kept in debug builds only (NDEBUG unset,
 * the debug preset), where catching misuse is worth two stores per firing;
 * elsewhere culprit_agent() is NULL. */
#ifndef MAESTRO_BASE_CULPRIT_H
#define MAESTRO_BASE_CULPRIT_H

#ifndef NDEBUG
extern _Thread_local const char *culprit_name __attribute__((tls_model("initial-exec")));
/* Sets the current agent's name (NULL: none); returns the previous one. */
static inline const char *culprit_set(const char *name) {
  const char *outer = culprit_name;
  culprit_name = name;
  return outer;
}
static inline const char *culprit_agent(void) {
  return culprit_name;
}
#else
static inline const char *culprit_set(const char *name) {
  (void)name;
  return (const char *)0;
}
static inline const char *culprit_agent(void) {
  return (const char *)0;
}
#endif

#endif
