/* POSIX ACLs in the Linux xattr format: see posix_acl.h.  The mode algebra
 * follows the kernel's fs/posix_acl.c. */
#include <errno.h>
#include <sys/stat.h>

#include "acl/posix_acl.h"

bool sm_acl_tag_has_id(unsigned tag)
{
	return tag == ACL_TAG_USER || tag == ACL_TAG_GROUP;
}

int sm_acl_check(const unsigned char *value, size_t len, size_t *count)
{
	enum { S_UOBJ, S_USER, S_GROUP, S_OTHER, S_DONE } state = S_UOBJ;
	bool needs_mask = false;

	*count = 0;
	if (len == 0)
		return 0;
	if (len < 4)
		return -EINVAL;
	if (acl_le32(value) != ACL_XATTR_VERSION)
		return -EOPNOTSUPP;
	if ((len - 4) % 8)
		return -EINVAL;
	*count = (len - 4) / 8;
	for (size_t i = 0; i < *count; i++) {
		const unsigned char *e = value + 4 + 8 * i;
		unsigned tag = acl_le16(e);

		if (acl_le16(e + 2) & ~(unsigned)ACL_PERM_BITS)
			return -EINVAL;
		switch (tag) {
		case ACL_TAG_USER_OBJ:
			if (state != S_UOBJ)
				return -EINVAL;
			state = S_USER;
			break;
		case ACL_TAG_USER:
		case ACL_TAG_GROUP:
			if (state != (tag == ACL_TAG_USER ? S_USER : S_GROUP) ||
			    acl_le32(e + 4) == ACL_UNDEFINED_ID)
				return -EINVAL;
			needs_mask = true;
			break;
		case ACL_TAG_GROUP_OBJ:
			if (state != S_USER)
				return -EINVAL;
			state = S_GROUP;
			break;
		case ACL_TAG_MASK:
			if (state != S_GROUP)
				return -EINVAL;
			state = S_OTHER;
			break;
		case ACL_TAG_OTHER:
			if (state == S_OTHER || (state == S_GROUP && !needs_mask)) {
				state = S_DONE;
				break;
			}
			return -EINVAL;
		default:
			return -EINVAL;
		}
	}
	return *count == 0 || state == S_DONE ? 0 : -EINVAL;
}

void sm_acl_normalize(unsigned char *acl, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		unsigned char *e = acl + 4 + 8 * i;

		if (!sm_acl_tag_has_id(acl_le16(e)))
			acl_put_le32(e + 4, ACL_UNDEFINED_ID);
	}
}

bool sm_acl_equiv_mode(const unsigned char *acl, size_t count, uint32_t *perm)
{
	bool equiv = true;
	int mask = -1;
	uint32_t mode = 0;

	for (size_t i = 0; i < count; i++) {
		const unsigned char *e = acl + 4 + 8 * i;
		uint32_t p = acl_le16(e + 2) & ACL_PERM_BITS;

		switch (acl_le16(e)) {
		case ACL_TAG_USER_OBJ: mode |= p << 6; break;
		case ACL_TAG_GROUP_OBJ: mode |= p << 3; break;
		case ACL_TAG_OTHER: mode |= p; break;
		case ACL_TAG_MASK: mask = (int)p; equiv = false; break;
		default: equiv = false; break;
		}
	}
	if (mask >= 0)
		mode = (mode & ~(uint32_t)S_IRWXG) | (uint32_t)mask << 3;
	*perm = mode;
	return equiv;
}

bool sm_acl_create_masq(unsigned char *acl, size_t count, uint32_t *mode)
{
	unsigned char *group_obj = NULL, *mask_obj = NULL, *g;
	uint32_t m = *mode;
	bool not_equiv = false;
	unsigned perm;

	for (size_t i = 0; i < count; i++) {
		unsigned char *e = acl + 4 + 8 * i;

		perm = acl_le16(e + 2);
		switch (acl_le16(e)) {
		case ACL_TAG_USER_OBJ:
			perm &= (m >> 6) & ACL_PERM_BITS;
			m = (m & ~(uint32_t)S_IRWXU) | perm << 6;
			acl_put_le16(e + 2, perm);
			break;
		case ACL_TAG_OTHER:
			perm &= m & ACL_PERM_BITS;
			m = (m & ~(uint32_t)S_IRWXO) | perm;
			acl_put_le16(e + 2, perm);
			break;
		case ACL_TAG_GROUP_OBJ:
			group_obj = e;
			break;
		case ACL_TAG_MASK:
			mask_obj = e;
			not_equiv = true;
			break;
		default:
			not_equiv = true;
			break;
		}
	}
	g = mask_obj ? mask_obj : group_obj;
	if (g) {
		perm = acl_le16(g + 2) & ((m >> 3) & ACL_PERM_BITS);
		m = (m & ~(uint32_t)S_IRWXG) | perm << 3;
		acl_put_le16(g + 2, perm);
	}
	*mode = m;
	return not_equiv;
}

void sm_acl_chmod_masq(unsigned char *acl, size_t count, uint32_t mode)
{
	unsigned char *group_obj = NULL, *mask_obj = NULL, *g;

	for (size_t i = 0; i < count; i++) {
		unsigned char *e = acl + 4 + 8 * i;

		switch (acl_le16(e)) {
		case ACL_TAG_USER_OBJ:
			acl_put_le16(e + 2, (mode & S_IRWXU) >> 6);
			break;
		case ACL_TAG_OTHER:
			acl_put_le16(e + 2, mode & S_IRWXO);
			break;
		case ACL_TAG_GROUP_OBJ:
			group_obj = e;
			break;
		case ACL_TAG_MASK:
			mask_obj = e;
			break;
		default:
			break;
		}
	}
	g = mask_obj ? mask_obj : group_obj;
	if (g)
		acl_put_le16(g + 2, (mode & S_IRWXG) >> 3);
}
