#include "layout.h"

#include <stdio.h>

#include "../bootstrap/units.h"

/* The GPT entry array is 128 entries of 128 bytes (boot-spec.md §0.2). */
#define GPT_ENTRY_BYTES (128u * 128u)

static uint64_t gpt_array_sectors(unsigned ss)
{
	return (GPT_ENTRY_BYTES + ss - 1) / ss;
}

uint64_t mv_layout_head_bytes(enum mv_table t, unsigned ss)
{
	if (t == MV_TABLE_GPT)
		return (uint64_t)ss * (2 + gpt_array_sectors(ss)); /* PMBR, header, array */
	return t == MV_TABLE_MBR ? ss : 0;
}

uint64_t mv_layout_tail_bytes(enum mv_table t, unsigned ss)
{
	return t == MV_TABLE_GPT ? (uint64_t)ss * (1 + gpt_array_sectors(ss)) : 0;
}

static const char *human(uint64_t v, char *buf)
{
	return mv_human_size(v, buf, 32);
}

/* Place every partition given the grow partition's length; returns the end
 * of the last partition. */
static uint64_t place(struct mv_layout *l, uint64_t grow_length)
{
	uint64_t pos = mv_align_up(l->first_usable, l->align);
	int deferred = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct mv_layout_part *p = &l->parts[i];
		p->start = mv_align_up(pos, l->align);
		p->start_deferred = deferred;
		switch (p->kind) {
		case MV_LSIZE_FIXED:
			p->length = p->size;
			p->length_deferred = 0;
			break;
		case MV_LSIZE_GROW:
			p->length = grow_length;
			p->length_deferred = deferred;
			break;
		case MV_LSIZE_AUTO:
			p->length = 0;
			p->length_deferred = 1;
			deferred = 1;
			break;
		}
		pos = p->start + p->length;
	}
	return pos;
}

int mv_layout_compute(struct mv_layout *l, char *err, size_t errlen)
{
	char a[32], b[32], c[32];
	unsigned ss = l->sector_size;

	if (ss != 512 && ss != 4096) {
		snprintf(err, errlen, "sector size %u: expected 512 or 4096", ss);
		return -1;
	}
	if (!l->align)
		l->align = MV_DEFAULT_ALIGN;
	if (l->align % ss) {
		snprintf(err, errlen, "alignment %llu is not a multiple of the %u-byte sector",
			 (unsigned long long)l->align, ss);
		return -1;
	}
	size_t max = l->table == MV_TABLE_MBR ? MV_MBR_MAX_PARTITIONS : MV_GPT_MAX_PARTITIONS;
	if (l->n > max) {
		if (l->table == MV_TABLE_MBR)
			snprintf(err, errlen,
				 "an MBR table holds at most %zu primary partitions and the profile has %zu: "
				 "remove some or use Table=gpt",
				 max, l->n);
		else
			snprintf(err, errlen, "a GPT table holds at most %zu partitions and the profile has %zu",
				 max, l->n);
		return -1;
	}
	if (l->disk_size % ss) {
		snprintf(err, errlen, "disk size %llu is not a multiple of the %u-byte sector",
			 (unsigned long long)l->disk_size, ss);
		return -1;
	}

	const struct mv_layout_part *grow = NULL;
	int any_auto = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct mv_layout_part *p = &l->parts[i];
		if (p->kind == MV_LSIZE_GROW) {
			if (grow) {
				snprintf(err, errlen, "partitions %s and %s both have Size=Grow: only one partition can take the rest",
					 grow->name, p->name);
				return -1;
			}
			grow = p;
		} else if (p->kind == MV_LSIZE_AUTO) {
			any_auto = 1;
		} else if (p->size == 0 || p->size % ss) {
			snprintf(err, errlen, "partition %s: size %llu is not a positive multiple of the %u-byte sector",
				 p->name, (unsigned long long)p->size, ss);
			return -1;
		}
	}

	l->first_usable = mv_layout_head_bytes(l->table, ss);
	uint64_t tail = mv_layout_tail_bytes(l->table, ss);
	uint64_t end0 = place(l, 0);
	l->disk_size_deferred = 0;

	if (l->disk_size == 0) {
		if (grow) {
			snprintf(err, errlen, "partition %s has Size=Grow but the image has no size: set [Disk] Size= or pass --size",
				 grow->name);
			return -1;
		}
		l->disk_size = mv_align_up(end0 + tail, l->align);
		l->disk_size_deferred = any_auto;
	}
	if (l->disk_size < l->first_usable + tail) {
		snprintf(err, errlen, "a disk of %s cannot even hold the %s partition table",
			 human(l->disk_size, a), l->table == MV_TABLE_GPT ? "GPT" : "MBR");
		return -1;
	}
	l->last_usable_end = l->disk_size - tail;

	uint64_t need = end0 + (grow ? l->align : 0);
	if (need > l->last_usable_end) {
		snprintf(err, errlen, "the partitions need %s%s but the disk holds %s before its %s: %s missing",
			 human(need + tail, a), grow ? " (with 1 alignment unit for the Grow partition)" : "",
			 human(l->disk_size, b), tail ? "backup GPT" : "end", human(need - l->last_usable_end, c));
		return -1;
	}
	if (grow) {
		uint64_t grow_length = mv_align_down(l->last_usable_end - end0, l->align);
		place(l, grow_length);
	}

	if (l->table == MV_TABLE_MBR) {
		for (size_t i = 0; i < l->n; i++) {
			const struct mv_layout_part *p = &l->parts[i];
			if ((p->start + p->length) / ss - 1 > UINT32_MAX) {
				snprintf(err, errlen, "partition %s ends past 2 TiB (sector 2^32) with %u-byte sectors, which MBR cannot address: use Table=gpt",
					 p->name, ss);
				return -1;
			}
		}
	}
	return 0;
}
