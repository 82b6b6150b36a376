#!/bin/bash
# Permission semantics as real non-root users on an allow_other mount, each
# result compared with the kernel's ext4: mode bits, directory search, the
# sticky bit, chmod/chown/chgrp rules, SUID/SGID clearing, SGID directories,
# POSIX ACLs (access and default, inheritance on create).
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/semantics.sh"
sem_init
sem_users
command -v setfacl >/dev/null || sm_skip "setfacl (package acl) not installed"
umask 022
A=$SEM_UA B=$SEM_UB
AID=$(id -u "$A") BID=$(id -u "$B")
AGID=$(id -g "$A") BGID=$(id -g "$B")
GRP=$(getent group smsemgrp | cut -d: -f3)
OTHER=$(getent group smsemother | cut -d: -f3)
SEM_SOPTS=allow_other

scen_modes() {
	install -d -o "$A" -g "$AGID" -m 0755 "$M/a"
	sem_tu "$A" "A creates 0600" OK open "$M/a/secret" "O_WRONLY|O_CREAT" 0600
	sem_tu "$A" "A writes" "OK 6" write "$M/a/secret" 0 secret
	sem_t "secret mode" "OK mode=100600 uid=$AID gid=$AGID" stat "$M/a/secret" mode,uid,gid
	sem_tu "$B" "B reads 0600" EACCES read "$M/a/secret" 0 10
	sem_tu "$B" "B opens 0600 for write" EACCES open "$M/a/secret" O_WRONLY
	sem_tu "$B" "B O_TRUNC 0600" EACCES open "$M/a/secret" "O_WRONLY|O_TRUNC"
	sem_tu "$B" "B truncates 0600" EACCES truncate "$M/a/secret" 0
	sem_tu "$B" "B stats 0600" "OK mode=100600" stat "$M/a/secret" mode
	sem_tu "$A" "A reads own" "OK 6 secret" read "$M/a/secret" 0 10
	sem_tu "$B" "B creates in A's 0755 dir" EACCES open "$M/a/b" "O_WRONLY|O_CREAT" 0644
	sem_tu "$B" "B mkdir in A's dir" EACCES mkdir "$M/a/bd" 0755
	sem_tu "$B" "B unlinks in A's dir" EACCES unlink "$M/a/secret"
	sem_tu "$B" "B access r" EACCES access "$M/a/secret" r
	sem_tu "$A" "A access rw" OK access "$M/a/secret" rw
	sem_tu "$A" "A access x" EACCES access "$M/a/secret" x

	# Directory search (x) and read (r) permission.
	sem_tu "$A" "A mkdir nox" OK mkdir "$M/a/nox" 0755
	sem_tu "$A" "A creates child" OK open "$M/a/nox/child" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod dir 0744" OK chmod "$M/a/nox" 0744
	sem_tu "$B" "B lists r-- dir" "[.] [..] [child] OK" readdir "$M/a/nox"
	sem_tu "$B" "B stats child of r-- dir" EACCES stat "$M/a/nox/child"
	sem_tu "$B" "B opens child of r-- dir" EACCES open "$M/a/nox/child" O_RDONLY
	sem_tu "$A" "A chmod dir 0711" OK chmod "$M/a/nox" 0711
	sem_tu "$B" "B lists --x dir" EACCES readdir "$M/a/nox"
	sem_tu "$B" "B stats child of --x dir" "OK mode=100644" stat "$M/a/nox/child" mode
	sem_tu "$A" "A chmod dir 0700" OK chmod "$M/a/nox" 0700
	sem_tu "$B" "B stats child of 0700 dir" EACCES stat "$M/a/nox/child"
	sem_tu "$B" "B missing child of 0700 dir" EACCES stat "$M/a/nox/missing"
	sem_tu "$A" "A still can" "OK mode=100644" stat "$M/a/nox/child" mode
}

scen_sticky() {
	install -d -m 1777 "$M/tmp"
	install -d -m 0777 "$M/open"
	install -d -o "$B" -g "$BGID" -m 1777 "$M/btmp"
	sem_tu "$A" "A creates in sticky" OK open "$M/tmp/af" "O_WRONLY|O_CREAT" 0666
	sem_tu "$A" "A creates second" OK open "$M/tmp/af2" "O_WRONLY|O_CREAT" 0666
	sem_tu "$B" "B creates own" OK open "$M/tmp/bf" "O_WRONLY|O_CREAT" 0666
	sem_tu "$B" "B unlinks A's in sticky" EPERM unlink "$M/tmp/af"
	sem_tu "$B" "B renames A's in sticky" EPERM rename "$M/tmp/af" "$M/tmp/x"
	sem_tu "$B" "B renames own over A's" EPERM rename "$M/tmp/bf" "$M/tmp/af"
	sem_tu "$B" "B exchanges with A's" EPERM rename "$M/tmp/bf" "$M/tmp/af" exchange
	sem_tu "$A" "A chmod 0666" OK chmod "$M/tmp/af" 0666
	sem_tu "$B" "B writes A's 0666 in sticky" "OK 1" write "$M/tmp/af" 0 x
	sem_tu "$B" "B unlinks own in sticky" OK unlink "$M/tmp/bf"
	sem_tu "$A" "A unlinks own in sticky" OK unlink "$M/tmp/af2"
	sem_t "root unlinks A's in sticky" OK unlink "$M/tmp/af"
	sem_tu "$A" "A creates in B's sticky" OK open "$M/btmp/af" "O_WRONLY|O_CREAT" 0644
	sem_tu "$B" "dir owner B unlinks A's" OK unlink "$M/btmp/af"
	sem_tu "$A" "A creates in 0777" OK open "$M/open/af" "O_WRONLY|O_CREAT" 0644
	sem_tu "$B" "B renames A's in 0777" OK rename "$M/open/af" "$M/open/x"
	sem_tu "$B" "B unlinks A's in 0777" OK unlink "$M/open/x"
	sem_t "sticky dir mode" "OK mode=041777" stat "$M/tmp" mode
}

scen_owner() {
	install -d -m 0777 "$M/w"
	sem_tu "$A" "A creates" OK open "$M/w/af" "O_WRONLY|O_CREAT" 0644
	sem_tu "$B" "B chmod A's" EPERM chmod "$M/w/af" 0666
	sem_tu "$B" "B chown A's to B" EPERM chown "$M/w/af" "$BID" -1
	sem_tu "$B" "B utimens A's explicit" EPERM utimens "$M/w/af" 1 0 1 0
	sem_tu "$B" "B utimens A's NOW (no write perm)" EACCES utimens "$M/w/af" NOW 0 NOW 0
	sem_tu "$A" "A chmod 0666" OK chmod "$M/w/af" 0666
	sem_tu "$B" "B utimens NOW with write perm" OK utimens "$M/w/af" NOW 0 NOW 0
	sem_tu "$B" "B utimens explicit with write perm" EPERM utimens "$M/w/af" 1 0 1 0
	sem_tu "$A" "A chown to B" EPERM chown "$M/w/af" "$BID" -1
	sem_tu "$A" "A chown to self" OK chown "$M/w/af" "$AID" -1
	sem_tu "$A" "A chgrp to a group A is not in" EPERM chown "$M/w/af" -1 "$OTHER"
	sem_tu "$A" "A chgrp to a group A is in" OK chown "$M/w/af" -1 "$GRP"
	sem_t "group changed" "OK uid=$AID gid=$GRP" stat "$M/w/af" uid,gid
	sem_tu "$B" "B chgrp A's" EPERM chown "$M/w/af" -1 "$BGID"
	sem_t "root chown to B" OK chown "$M/w/af" "$BID" "$BGID"
	sem_t "owner is B" "OK uid=$BID gid=$BGID" stat "$M/w/af" uid,gid
	# chmod g+s by an owner outside the file's group: the bit is dropped.
	sem_t "root makes file A:other" OK chown "$M/w/af" "$AID" "$OTHER"
	sem_tu "$A" "A chmod 2755 outside group" OK chmod "$M/w/af" 2755
	sem_t "SGID dropped" "OK mode=100755" stat "$M/w/af" mode
	sem_tu "$A" "A chmod 4755" OK chmod "$M/w/af" 4755
	sem_t "SUID kept" "OK mode=104755" stat "$M/w/af" mode
}

scen_suid() {
	install -d -m 0777 "$M/w"
	sem_tu "$A" "A creates s1" OK open "$M/w/s1" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6777" OK chmod "$M/w/s1" 6777
	sem_t "s1 mode" "OK mode=106777" stat "$M/w/s1" mode
	sem_tu "$B" "B writes s1" "OK 1" write "$M/w/s1" 0 x
	sem_t "SUID+SGID cleared by non-owner write" "OK mode=100777" stat "$M/w/s1" mode

	sem_tu "$A" "A creates s2" OK open "$M/w/s2" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6747" OK chmod "$M/w/s2" 6747
	sem_tu "$B" "B writes s2" "OK 1" write "$M/w/s2" 0 x
	# B is outside the file's group, so the SUID-clearing chmod drops SGID too.
	sem_t "SUID cleared, B outside group drops SGID" "OK mode=100747" stat "$M/w/s2" mode
	sem_t "root creates s2b" OK open "$M/w/s2b" "O_WRONLY|O_CREAT" 0644
	# A is in the file's group by its primary gid: the sandboxed server
	# sees the caller's uid and primary gid but not its supplementary
	# groups (/proc is out of its reach), and then drops a plain SGID that
	# ext4 would keep -- the safe side, see docs/security.md.
	sem_t "s2b owned B:A's group" OK chown "$M/w/s2b" "$BID" "$AGID"
	sem_t "s2b 6767" OK chmod "$M/w/s2b" 6767
	sem_tu "$A" "A (in group) writes s2b" "OK 1" write "$M/w/s2b" 0 x
	sem_t "SUID cleared, SGID without g+x kept" "OK mode=102767" stat "$M/w/s2b" mode

	sem_tu "$A" "A creates s3" OK open "$M/w/s3" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6777 s3" OK chmod "$M/w/s3" 6777
	sem_tu "$A" "owner writes s3" "OK 1" write "$M/w/s3" 0 x
	sem_t "owner's write clears too" "OK mode=100777" stat "$M/w/s3" mode

	sem_tu "$A" "A creates s4" OK open "$M/w/s4" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6777 s4" OK chmod "$M/w/s4" 6777
	sem_t "root writes s4" "OK 1" write "$M/w/s4" 0 x
	sem_t "root's write keeps" "OK mode=106777" stat "$M/w/s4" mode
	sem_tu "$B" "B truncates s4" OK truncate "$M/w/s4" 100
	sem_t "truncate by non-owner clears" "OK mode=100777 size=100" stat "$M/w/s4" mode,size

	sem_tu "$A" "A creates s5" OK open "$M/w/s5" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6777 s5" OK chmod "$M/w/s5" 6777
	sem_tu "$B" "B O_TRUNC s5" OK open "$M/w/s5" "O_WRONLY|O_TRUNC"
	sem_t "O_TRUNC by non-owner clears" "OK mode=100777" stat "$M/w/s5" mode

	sem_tu "$A" "A creates s6" OK open "$M/w/s6" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6755 s6" OK chmod "$M/w/s6" 6755
	sem_t "root chowns s6" OK chown "$M/w/s6" "$BID" -1
	sem_t "chown by root clears SUID/SGID" "OK mode=100755 uid=$BID" stat "$M/w/s6" mode,uid

	sem_tu "$A" "A creates s7" OK open "$M/w/s7" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 6755 s7" OK chmod "$M/w/s7" 6755
	sem_tu "$A" "A chgrp s7" OK chown "$M/w/s7" -1 "$GRP"
	sem_t "chgrp by owner clears" "OK mode=100755 gid=$GRP" stat "$M/w/s7" mode,gid

	sem_tu "$A" "A creates s8" OK open "$M/w/s8" "O_WRONLY|O_CREAT" 0644
	sem_tu "$A" "A chmod 4777 s8" OK chmod "$M/w/s8" 4777
	sem_tu "$B" "B fallocates s8" OK fallocate "$M/w/s8" 0 0 4096
	sem_t "fallocate by non-owner clears" "OK mode=100777 size=4096" stat "$M/w/s8" mode,size

	install -d -m 2777 -g "$GRP" "$M/sg"
	sem_tu "$A" "A creates in SGID dir" OK open "$M/sg/af" "O_WRONLY|O_CREAT" 0644
	sem_t "file inherits group" "OK mode=100644 uid=$AID gid=$GRP" stat "$M/sg/af" mode,uid,gid
	sem_tu "$B" "B creates in SGID dir" OK open "$M/sg/bf" "O_WRONLY|O_CREAT" 02755
	sem_t "B's file: group inherited, SGID stripped" "OK mode=100755 uid=$BID gid=$GRP" stat "$M/sg/bf" mode,uid,gid
	sem_tu "$A" "A creates SGID file in SGID dir" OK open "$M/sg/as" "O_WRONLY|O_CREAT" 02755
	sem_t "A in group keeps SGID" "OK mode=102755 gid=$GRP" stat "$M/sg/as" mode,gid
	sem_tu "$B" "B mkdir in SGID dir" OK mkdir "$M/sg/bd" 0755
	sem_t "subdir inherits group and SGID" "OK mode=042755 uid=$BID gid=$GRP" stat "$M/sg/bd" mode,uid,gid
	sem_tu "$B" "B mknod fifo in SGID dir" OK mknod "$M/sg/bfifo" fifo 0644
	sem_t "fifo group" "OK mode=010644 gid=$GRP" stat "$M/sg/bfifo" mode,gid
	sem_tu "$B" "B symlink in SGID dir" OK symlink x "$M/sg/bsl"
	sem_tx "symlink group" "$GRP rc=0" stat -c %g "$M/sg/bsl"
}

scen_acl() {
	install -d -m 0777 "$M/w"
	sem_tu "$A" "A creates 0600" OK open "$M/w/f" "O_WRONLY|O_CREAT" 0600
	sem_tu "$A" "A writes" "OK 4" write "$M/w/f" 0 data
	sem_tu "$B" "B reads before ACL" EACCES read "$M/w/f" 0 10
	sem_tx "A setfacl u:B:r" "rc=0" sem_as "$A" setfacl -m "u:$B:r" "$M/w/f"
	sem_tu "$B" "B reads with ACL" "OK 4 data" read "$M/w/f" 0 10
	sem_tu "$B" "B writes with r ACL" EACCES open "$M/w/f" O_WRONLY
	sem_t "mode shows mask" "OK mode=100640" stat "$M/w/f" mode
	sem_tx "getfacl f" "" getfacl -cp "$M/w/f"
	sem_tu "$A" "chmod 0600 sets mask ---" OK chmod "$M/w/f" 0600
	sem_tu "$B" "B reads with masked ACL" EACCES read "$M/w/f" 0 10
	sem_tx "getfacl masked" "" getfacl -cp "$M/w/f"
	sem_tx "A setfacl g:grp:rw" "rc=0" sem_as "$A" setfacl -m "g:smsemgrp:rw,u:$B:-" "$M/w/f"
	sem_tu "$B" "B denied by u:B:---" EACCES read "$M/w/f" 0 10
	sem_tu "$A" "A as owner" "OK 4 data" read "$M/w/f" 0 10
	sem_tx "getfacl group" "" getfacl -cp "$M/w/f"
	sem_t "posix_acl_access xattr exists" "OK*" getxattr "$M/w/f" system.posix_acl_access
	sem_tx "A setfacl -b" "rc=0" sem_as "$A" setfacl -b "$M/w/f"
	sem_t "ACL removed" ENODATA getxattr "$M/w/f" system.posix_acl_access
	sem_t "mode after -b" "" stat "$M/w/f" mode

	# Default ACLs: inherited on create, and the umask does not apply.
	install -d -o "$A" -m 0755 "$M/dd"
	sem_tx "A setfacl -d" "rc=0" sem_as "$A" setfacl -d -m "u:$B:rwx,g::rx,o::-" "$M/dd"
	sem_tx "getfacl dir" "" getfacl -cp "$M/dd"
	sem_tu "$A" "A creates 0666 in dd" OK open "$M/dd/f" "O_WRONLY|O_CREAT" 0666
	sem_t "inherited file mode (umask ignored)" "OK mode=100660" stat "$M/dd/f" mode
	sem_tx "getfacl inherited file" "" getfacl -cp "$M/dd/f"
	sem_tu "$B" "B writes via inherited ACL" "OK 1" write "$M/dd/f" 0 x
	sem_tu "$A" "A mkdir in dd" OK mkdir "$M/dd/sub" 0777
	sem_t "inherited dir mode" "OK mode=040770" stat "$M/dd/sub" mode
	sem_tx "getfacl inherited dir" "" getfacl -cp "$M/dd/sub"
	sem_t "subdir default ACL" "OK*" getxattr "$M/dd/sub" system.posix_acl_default
	sem_tu "$A" "A mknod in dd" OK mknod "$M/dd/fifo" fifo 0644
	sem_tx "getfacl inherited fifo" "" getfacl -cp "$M/dd/fifo"
	sem_tu "$A" "A symlink in dd" OK symlink f "$M/dd/sl"
	sem_tx "symlink has no ACL" "" getfattr -h -d -m - "$M/dd/sl"
	sem_remount
	sem_tx "getfacl after remount" "" getfacl -cp "$M/dd/f" "$M/dd/sub"
	sem_tu "$B" "B reads after remount" "OK 1 x" read "$M/dd/f" 0 10
}

# trusted.* xattrs: listed to root only, unreadable by others.
scen_trusted() {
	install -o "$A" -g "$AGID" -m 0644 /dev/null "$M/tx"
	sem_tx "root sets trusted" "rc=0" setfattr -n trusted.t -v 1 "$M/tx"
	sem_tx "A sets user" "rc=0" sem_as "$A" setfattr -n user.u -v 2 "$M/tx"
	sem_t "root lists" "OK*trusted.t*" listxattr "$M/tx"
	sem_tu "$B" "B lists" "OK user.u" listxattr "$M/tx"
	sem_tu "$B" "B gets trusted" ENODATA getxattr "$M/tx" trusted.t
}

sem_compare perms_modes scen_modes
sem_compare perms_sticky scen_sticky
sem_compare perms_owner scen_owner
sem_compare perms_suid scen_suid
sem_compare perms_acl scen_acl
sem_compare perms_trusted scen_trusted
sem_finish
