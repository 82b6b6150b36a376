#!/bin/bash
# The same errno as the kernel's ext4 for the same failing system calls:
# ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, ENAMETOOLONG, EMLINK, EFBIG,
# EINVAL, EPERM; and RENAME_EXCHANGE of a file with a directory.
. "${SM_SOURCE_DIR:-$(dirname "$0")/../..}/tests/lib/common.sh"
. "$SM_SOURCE_DIR/tests/lib/semantics.sh"
sem_init

scen_basic() {
	mkdir "$M/d" "$M/full" "$M/empty" "$M/empty2" "$M/full/sub"
	echo data >"$M/f"
	echo x >"$M/full/x"
	ln -s f "$M/sl"

	# ENOENT
	sem_t "open missing" ENOENT open "$M/missing" O_RDONLY
	sem_t "stat missing" ENOENT stat "$M/missing"
	sem_t "unlink missing" ENOENT unlink "$M/missing"
	sem_t "rmdir missing" ENOENT rmdir "$M/missing"
	sem_t "lookup through missing dir" ENOENT stat "$M/missing/x"
	sem_t "create in missing dir" ENOENT open "$M/missing/x" "O_WRONLY|O_CREAT" 0644
	sem_t "mkdir in missing dir" ENOENT mkdir "$M/missing/x" 0755
	sem_t "rename missing" ENOENT rename "$M/missing" "$M/x"
	sem_t "link missing" ENOENT link "$M/missing" "$M/x"
	sem_t "chmod missing" ENOENT chmod "$M/missing" 0644
	sem_t "readlink missing" ENOENT readlink "$M/missing"
	sem_t "getxattr missing" ENOENT getxattr "$M/missing" user.x
	sem_t "getxattr absent attr" ENODATA getxattr "$M/f" user.absent

	# EEXIST
	sem_t "mkdir existing dir" EEXIST mkdir "$M/d" 0755
	sem_t "mkdir over file" EEXIST mkdir "$M/f" 0755
	sem_t "O_CREAT|O_EXCL existing" EEXIST open "$M/f" "O_WRONLY|O_CREAT|O_EXCL" 0644
	sem_t "O_CREAT|O_EXCL on symlink" EEXIST open "$M/sl" "O_WRONLY|O_CREAT|O_EXCL" 0644
	sem_t "link to existing" EEXIST link "$M/f" "$M/full/x"
	sem_t "symlink existing" EEXIST symlink target "$M/f"
	sem_t "mknod existing" EEXIST mknod "$M/f" fifo 0644
	sem_t "rename noreplace file" EEXIST rename "$M/full/x" "$M/f" noreplace
	sem_t "rename noreplace dir" EEXIST rename "$M/empty" "$M/d" noreplace
	sem_t "f intact after EEXIST" "OK 5 data\\x0a" read "$M/f" 0 100

	# ENOTEMPTY
	sem_t "rmdir non-empty" ENOTEMPTY rmdir "$M/full"
	sem_t "rename dir over non-empty dir" ENOTEMPTY rename "$M/empty" "$M/full"
	sem_t "rename empty over empty" OK rename "$M/empty2" "$M/empty"
	sem_t "renamed source gone" ENOENT stat "$M/empty2"
	mkdir "$M/empty2"

	# EISDIR
	sem_t "open dir O_WRONLY" EISDIR open "$M/d" O_WRONLY
	sem_t "open dir O_RDWR" EISDIR open "$M/d" O_RDWR
	sem_t "open dir O_CREAT" EISDIR open "$M/d" "O_WRONLY|O_CREAT" 0644
	sem_t "truncate dir" EISDIR truncate "$M/d" 0
	sem_t "rename file over dir" EISDIR rename "$M/f" "$M/d"
	sem_t "unlink dir" EISDIR unlink "$M/d"

	# ENOTDIR
	sem_t "lookup through file" ENOTDIR stat "$M/f/x"
	sem_t "create through file" ENOTDIR open "$M/f/x" "O_WRONLY|O_CREAT" 0644
	sem_t "mkdir through file" ENOTDIR mkdir "$M/f/x" 0755
	sem_t "rmdir a file" ENOTDIR rmdir "$M/f"
	sem_t "rename dir over file" ENOTDIR rename "$M/d" "$M/f"
	sem_t "open file O_DIRECTORY" ENOTDIR open "$M/f" "O_RDONLY|O_DIRECTORY"

	# EINVAL / EPERM / ELOOP
	sem_t "rename dir into own subdir" EINVAL rename "$M/full" "$M/full/sub/x"
	sem_t "rmdir dot" EINVAL rmdir "$M/d/."
	sem_t "link a directory" EPERM link "$M/d" "$M/dlink"
	sem_t "O_NOFOLLOW on symlink" ELOOP open "$M/sl" "O_RDONLY|O_NOFOLLOW"
	sem_t "readlink" "OK f" readlink "$M/sl"
	sem_t "readlink of a file" EINVAL readlink "$M/f"
	sem_t "fallocate bad range" EINVAL fallocate "$M/f" 0 0 0
	sem_t "truncate negative" EINVAL truncate "$M/f" -1

	sem_t "root listing" "" readdir "$M"
	sem_t "full listing" "" readdir "$M/full"
	sem_t "stat f" "" stat "$M/f" mode,size,nlink
	sem_t "stat d" "" stat "$M/d" mode,nlink
	sem_t "stat root" "" stat "$M" mode,nlink
}

scen_longname() {
	local n255 n256 tgt
	n255=$(sem_name 255 a)
	n256=$(sem_name 256 b)
	mkdir "$M/d"
	echo data >"$M/d/f"
	sem_t "create 256" ENAMETOOLONG open "$M/d/$n256" "O_WRONLY|O_CREAT" 0644
	sem_t "create 256 excl" ENAMETOOLONG open "$M/d/$n256" "O_WRONLY|O_CREAT|O_EXCL" 0644
	sem_t "stat 256" ENAMETOOLONG stat "$M/d/$n256"
	sem_t "mkdir 256" ENAMETOOLONG mkdir "$M/d/$n256" 0755
	sem_t "rename to 256" ENAMETOOLONG rename "$M/d/f" "$M/d/$n256"
	sem_t "link to 256" ENAMETOOLONG link "$M/d/f" "$M/d/$n256"
	sem_t "symlink 256" ENAMETOOLONG symlink f "$M/d/$n256"
	sem_t "mknod 256" ENAMETOOLONG mknod "$M/d/$n256" fifo 0644
	sem_t "unlink 256" ENAMETOOLONG unlink "$M/d/$n256"
	sem_t "setxattr name 256" ERANGE setxattr "$M/d/f" "user.$(sem_name 251 x)" v
	sem_t "listing after 256" "$(printf '[.] [..] [f] OK')" readdir "$M/d"
	sem_tx "ls after 256" "f rc=0" ls "$M/d"
	# The limit itself works.
	sem_t "create 255" OK open "$M/d/$n255" "O_WRONLY|O_CREAT" 0644
	sem_t "stat 255" "OK size=0" stat "$M/d/$n255" size
	sem_t "mkdir 255" OK mkdir "$M/d/$(sem_name 255 c)" 0755
	sem_t "rename to 255" OK rename "$M/d/f" "$M/d/$(sem_name 255 d)"
	sem_t "listing with 255s" "" readdir "$M/d"
	# A long symlink target: 4095 bytes fit a 4 KiB block, 4096 do not.
	tgt=$(sem_name 4095 t)
	sem_t "symlink target 4095" OK symlink "$tgt" "$M/d/ls"
	sem_tx "readlink 4095" "4095 rc=0" sh -c "readlink '$M/d/ls' | tr -d '\\n' | wc -c"
	sem_t "symlink target 4096" ENAMETOOLONG symlink "${tgt}t" "$M/d/ls2"
	sem_t "symlink 60 (fast)" OK symlink "$(sem_name 59 s)" "$M/d/ls3"
	sem_t "readlink 59" "OK $(sem_name 59 s)" readlink "$M/d/ls3"
	sem_remount
	sem_t "listing after remount" "" readdir "$M/d"
	sem_tx "readlink 4095 after remount" "4095 rc=0" sh -c "readlink '$M/d/ls' | tr -d '\\n' | wc -c"
}

scen_emlink() {
	mkdir "$M/links"
	: >"$M/f"
	# ext4's limit is 65000 links to a file: 64999 more, then EMLINK.
	sem_t "link until EMLINK" "EMLINK count=64999" linkmany "$M/f" "$M/links" 70000
	sem_t "nlink at limit" "OK nlink=65000" stat "$M/f" nlink
	sem_t "unlink one" OK unlink "$M/links/d0/l0"
	sem_t "link again" OK link "$M/f" "$M/links/d0/l0"
	sem_t "and no more" EMLINK link "$M/f" "$M/links/d0/again"
	rm -rf "$M/links"
	sem_t "nlink after rm" "OK nlink=1" stat "$M/f" nlink
}

scen_efbig() {
	local max=$(((1 << 44) - 4096))
	echo data >"$M/f"
	sem_t "truncate 999999999999999" EFBIG truncate "$M/f" 999999999999999
	sem_t "size unchanged" "OK size=5" stat "$M/f" size
	sem_t "truncate 2^44" EFBIG truncate "$M/f" $((1 << 44))
	sem_t "truncate max+1" EFBIG truncate "$M/f" $((max + 1))
	sem_t "ftruncate 2^44" EFBIG ftruncate "$M/f" $((1 << 44))
	sem_t "size still unchanged" "OK size=5" stat "$M/f" size
	sem_t "write at 2^44" EFBIG write "$M/f" $((1 << 44)) x
	sem_t "write at max" EFBIG write "$M/f" $max x
	sem_t "write 999999999999999" EFBIG write "$M/f" 999999999999999 x
	sem_t "write across max is short" "OK 1" write "$M/f" $((max - 1)) xy
	sem_t "size is max" "OK size=$max" stat "$M/f" size
	sem_t "read last byte" "OK 1 x" read "$M/f" $((max - 1)) 10
	sem_t "truncate to max" OK truncate "$M/f" $max
	sem_t "truncate back" OK truncate "$M/f" 5
	sem_t "content after" "OK 5 data\\x0a" read "$M/f" 0 100
	sem_t "blocks after" "OK blocks=8" stat "$M/f" blocks
}

scen_exchange() {
	mkdir -p "$M/a" "$M/b/d/inner"
	echo file >"$M/a/f"
	echo in >"$M/b/d/inner/x"
	sem_t "nlink a before" "OK nlink=2" stat "$M/a" nlink
	sem_t "nlink b before" "OK nlink=3" stat "$M/b" nlink
	sem_t "exchange file<->dir" OK rename "$M/a/f" "$M/b/d" exchange
	sem_t "a/f is the dir" "OK mode=040755 nlink=3" stat "$M/a/f" mode,nlink
	sem_t "b/d is the file" "OK mode=100644 size=5" stat "$M/b/d" mode,size
	sem_t "content of b/d" "OK 5 file\\x0a" read "$M/b/d" 0 100
	sem_t "nlink a after" "OK nlink=3" stat "$M/a" nlink
	sem_t "nlink b after" "OK nlink=2" stat "$M/b" nlink
	sem_tx "a/f/.. is a" "yes rc=0" sem_same "$M/a/f/.." "$M/a"
	sem_t "inner moved along" "OK 3 in\\x0a" read "$M/a/f/inner/x" 0 100
	sem_t "exchange with missing" ENOENT rename "$M/a/f" "$M/b/none" exchange
	sem_t "exchange with ancestor" EINVAL rename "$M/a/f" "$M/a" exchange
	sem_t "exchange into own subdir" EINVAL rename "$M/a" "$M/a/f/inner" exchange
	sem_t "exchange file<->file" OK rename "$M/b/d" "$M/a/f/inner/x" exchange
	sem_t "after file<->file" "OK 5 file\\x0a" read "$M/a/f/inner/x" 0 100
	sem_t "and the other" "OK 3 in\\x0a" read "$M/b/d" 0 100
}

sem_compare errno_basic scen_basic
sem_compare errno_longname scen_longname
sem_compare errno_emlink scen_emlink
sem_compare errno_efbig scen_efbig
sem_compare errno_exchange scen_exchange
sem_finish
