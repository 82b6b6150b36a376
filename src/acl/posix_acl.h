/* POSIX ACLs in the Linux xattr format (posix_acl_xattr.h): validation and
 * the kernel's mode algebra, shared by every backend.  Pure functions over
 * a byte buffer: what a backend stores (and how it converts to its own
 * on-disk format) stays in the backend. */
#ifndef SAFEMOUNT_ACL_POSIX_ACL_H
#define SAFEMOUNT_ACL_POSIX_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACL_XATTR_VERSION 0x0002u
#define ACL_UNDEFINED_ID  0xffffffffu
#define ACL_TAG_USER_OBJ  0x01
#define ACL_TAG_USER      0x02
#define ACL_TAG_GROUP_OBJ 0x04
#define ACL_TAG_GROUP     0x08
#define ACL_TAG_MASK      0x10
#define ACL_TAG_OTHER     0x20
#define ACL_PERM_BITS     0x07

#define ACL_ACCESS  "system.posix_acl_access"
#define ACL_DEFAULT "system.posix_acl_default"

static inline unsigned acl_le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static inline uint32_t acl_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void acl_put_le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static inline void acl_put_le32(unsigned char *p, uint32_t v)
{
	acl_put_le16(p, v & 0xffff);
	acl_put_le16(p + 2, v >> 16);
}

/* Does an entry of this tag carry a uid/gid? */
bool sm_acl_tag_has_id(unsigned tag);

/* Validate an ACL like posix_acl_from_xattr() and posix_acl_valid();
 * *count is its number of entries (0: no ACL, which removes one). */
int sm_acl_check(const unsigned char *value, size_t len, size_t *count);

/* As posix_acl_to_xattr() would give it back: no ids on entries that have
 * none. */
void sm_acl_normalize(unsigned char *acl, size_t count);

/* posix_acl_equiv_mode(): the permission bits the ACL implies, and whether
 * the mode alone says everything (no named entries, no mask). */
bool sm_acl_equiv_mode(const unsigned char *acl, size_t count, uint32_t *perm);

/* posix_acl_create_masq(): the inherited default ACL (validated, changed in
 * place into the new inode's access ACL) masked by the mode asked for; the
 * mode's permission bits become what the ACL grants the owner, the group
 * class (the mask, if any) and others.  True if the ACL says more than the
 * mode can (named entries or a mask). */
bool sm_acl_create_masq(unsigned char *acl, size_t count, uint32_t *mode);

/* posix_acl_chmod_masq(): after chmod, the owner, group-class (the mask if
 * there is one) and other entries take the new permission bits. */
void sm_acl_chmod_masq(unsigned char *acl, size_t count, uint32_t mode);

#endif
