/* The contained server process (see server_main.c). */
#ifndef SAFEMOUNT_SERVER_H
#define SAFEMOUNT_SERVER_H

/* The hidden first argument that makes `safemount` the server. */
#define SM_SERVER_ARG "--server"

/* Run the server on the hand-over socket SM_HANDOVER_FD; does not return. */
int sm_server_main(void);

#endif
