/* node/cli_skill.h - `alexclaw skill list|load|unload|reload`: dynamic skills from the command line. Loading,
 * unloading and reloading need the second factor (--code) and are refused while 2FA is off, as everywhere else;
 * running nodes sharing the database pick the change up within a second (node/dynskills.h, the watcher). */
#ifndef AC_NODE_CLI_SKILL_H
#define AC_NODE_CLI_SKILL_H

/* argv holds the words after "skill". Returns the exit status (0, 1 failure, 2 usage). */
int ac_node_cli_skill(int argc, char **argv);

#endif
