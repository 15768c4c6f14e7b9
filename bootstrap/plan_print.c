/* The plan, for people (text) and for programs (--json). Both walk the same
 * plan; neither computes anything. */
#include <string.h>

#include "../partition/target.h"
#include "json.h"
#include "plan.h"
#include "units.h"

static const char *target_word(enum mv_target_kind t)
{
	return t == MV_TARGET_IMAGE ? "image" : t == MV_TARGET_DISK ? "disk" : "prefix";
}

static void print_type(const struct mv_plan *plan, const struct mv_plan_partition *pp, char *buf, size_t len)
{
	if (plan->table == MV_TABLE_MBR)
		snprintf(buf, len, "0x%02x%s%s", pp->type.mbr, pp->type.name ? " " : "",
			 pp->type.name ? pp->type.name : "");
	else
		snprintf(buf, len, "%s%s%s", pp->type.guid, pp->type.name ? " " : "",
			 pp->type.name ? pp->type.name : "");
}

static void indented(FILE *out, const char *prefix, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		fprintf(out, "%s%.*s\n", prefix, (int)n, text);
		text += n;
		if (*text == '\n')
			text++;
	}
}

void mv_plan_print_text(const struct mv_plan *plan, FILE *out)
{
	const struct mv_profile *p = plan->profile;
	char h1[32], h2[32], type[80];

	fprintf(out, "Plan for %s: %s%s%s (%s)\n", p->file, p->name.v, p->description.v ? " - " : "",
		p->description.v ? p->description.v : "", mv_arch_name(p->arch));
	fprintf(out, "Target:  %s %s", target_word(plan->opt.target), plan->opt.path);
	if (plan->opt.target != MV_TARGET_PREFIX) {
		if (plan->disk_size_deferred)
			fprintf(out, ", size decided by the survey stage");
		else
			fprintf(out, ", %s (%llu bytes)", mv_human_size(plan->disk_size, h1, sizeof(h1)),
				(unsigned long long)plan->disk_size);
		fprintf(out, ", %u-byte sectors\n", plan->sector_size);
		fprintf(out, "Table:   %s, %s%s\n", mv_table_name(plan->table),
			plan->table == MV_TABLE_GPT ? "disk GUID " : "disk signature 0x", plan->disk_id);
	} else {
		fputc('\n', out);
	}
	if (plan->opt.target != MV_TARGET_PREFIX)
		fprintf(out, "Seed:    %s (from %s)\n", plan->seed_hex, plan->seed_origin);

	if (plan->parts.n) {
		fprintf(out, "\nPartitions (offsets aligned to 1 MiB):\n");
		for (size_t i = 0; i < plan->parts.n; i++) {
			const struct mv_plan_partition *pp = &plan->parts.v[i];
			print_type(plan, pp, type, sizeof(type));
			fprintf(out, "  %u %-10s start ", pp->number, pp->src->name);
			if (pp->start_deferred)
				fprintf(out, "(after the survey)");
			else
				fprintf(out, "%llu (%s)", (unsigned long long)pp->start, mv_human_size(pp->start, h1, sizeof(h1)));
			fprintf(out, ", size ");
			if (pp->size_deferred)
				fprintf(out, "(decided by the survey)");
			else
				fprintf(out, "%llu (%s)", (unsigned long long)pp->size, mv_human_size(pp->size, h2, sizeof(h2)));
			fprintf(out, "\n      type %s\n      label %s, partuuid %s, filesystem %s%s%s", type,
				pp->src->label.v ? pp->src->label.v : "(none)", pp->partuuid, mv_fs_name(pp->fs),
				*pp->fs_id ? " " : "", pp->fs_id);
			if (pp->attributes)
				fprintf(out, ", attributes 0x%016llx", (unsigned long long)pp->attributes);
			if (pp->grow_fs)
				fprintf(out, plan->table == MV_TABLE_GPT ? ", grows on first boot"
									 : ", asked to grow (see the warning below)");
			if (pp->bootable)
				fprintf(out, ", active");
			if (pp->src->mount.v)
				fprintf(out, ", mounted at %s", pp->src->mount.v);
			fputc('\n', out);
		}
	}

	fprintf(out, "\nSources:\n");
	if (!plan->sources.n)
		fprintf(out, "  (none)\n");
	for (size_t i = 0; i < plan->sources.n; i++) {
		const struct mv_plan_source *s = &plan->sources.v[i];
		fprintf(out, "  %-10s %s\n", s->role, s->location);
		if (s->path && strcmp(s->path, s->location) != 0)
			fprintf(out, "             read from %s\n", s->path);
		fprintf(out, "             sha256 %s\n", s->sha256 ? s->sha256
			: s->kind == MV_SRC_HTTP ? "(NOT PINNED: --allow-unpinned)" : "(local: not pinned)");
		if (s->strip)
			fprintf(out, "             strip %d leading path component%s\n", s->strip, s->strip > 1 ? "s" : "");
		for (size_t m = 0; m < s->n_mirrors; m++)
			fprintf(out, "             mirror %s\n", s->mirrors[m].v);
	}

	fprintf(out, "\nStages, in the order a run executes them:\n");
	for (int st = 0; st < MV_STAGE_COUNT; st++) {
		fprintf(out, "  %d. %s\n", st + 1, mv_stage_name((enum mv_stage)st));
		int any = 0;
		for (size_t i = 0; i < plan->steps.n; i++) {
			const struct mv_step *s = &plan->steps.v[i];
			if ((int)s->stage != st)
				continue;
			any = 1;
			fprintf(out, "     - %s", s->action);
			if (s->partition || s->path)
				fprintf(out, ": %s%s%s", s->partition ? s->partition : "",
					s->partition && s->path ? ":" : "", s->path ? s->path : "");
			fputc('\n', out);
			if (s->from)
				fprintf(out, "         from %s\n", s->from);
			if (s->deferred)
				fprintf(out, "         deferred: %s\n", s->deferred);
			if (s->content)
				indented(out, "         | ", s->content);
		}
		if (!any)
			fprintf(out, "     (nothing to do)\n");
	}
	if (plan->handoff_command)
		fprintf(out, "\nHandoff: %s: %s\n", plan->handoff_mode, plan->handoff_command);
	for (size_t i = 0; i < plan->warnings.n; i++)
		fprintf(out, "\nwarning: %s\n", plan->warnings.v[i]);
}

void mv_plan_print_json(const struct mv_plan *plan, FILE *out)
{
	const struct mv_profile *p = plan->profile;
	struct mv_json j = {.out = out};
	char type[80];

	mv_json_begin(&j, NULL, '{');
	mv_json_begin(&j, "profile", '{');
	mv_json_str(&j, "file", p->file);
	mv_json_str(&j, "name", p->name.v);
	mv_json_str(&j, "description", p->description.v);
	mv_json_str(&j, "architecture", mv_arch_name(p->arch));
	mv_json_end(&j, '}');

	mv_json_begin(&j, "target", '{');
	mv_json_str(&j, "kind", target_word(plan->opt.target));
	mv_json_str(&j, "path", plan->opt.path);
	if (plan->opt.target != MV_TARGET_PREFIX) {
		if (plan->disk_size_deferred)
			mv_json_str(&j, "size", NULL);
		else
			mv_json_u64(&j, "size", plan->disk_size);
		mv_json_u64(&j, "sector_size", plan->sector_size);
		mv_json_str(&j, "table", mv_table_name(plan->table));
		mv_json_str(&j, "disk_id", plan->disk_id);
		mv_json_str(&j, "seed", plan->seed_hex);
		mv_json_str(&j, "seed_from", plan->seed_origin);
	}
	/* An install erases the disk: what it holds now, and whether install
	 * would refuse it (the text's "Destroyed by the install", cmd_plan.c). */
	if (plan->opt.target == MV_TARGET_DISK)
		mv_blockdev_describe_json(&j, plan->opt.path);
	mv_json_end(&j, '}');

	mv_json_begin(&j, "partitions", '[');
	for (size_t i = 0; i < plan->parts.n; i++) {
		const struct mv_plan_partition *pp = &plan->parts.v[i];
		mv_json_begin(&j, NULL, '{');
		mv_json_u64(&j, "number", pp->number);
		mv_json_str(&j, "name", pp->src->name);
		if (pp->start_deferred)
			mv_json_str(&j, "start", NULL);
		else
			mv_json_u64(&j, "start", pp->start);
		if (pp->size_deferred)
			mv_json_str(&j, "size", NULL);
		else
			mv_json_u64(&j, "size", pp->size);
		print_type(plan, pp, type, sizeof(type));
		if (plan->table == MV_TABLE_MBR)
			snprintf(type, sizeof(type), "0x%02x", pp->type.mbr);
		else
			snprintf(type, sizeof(type), "%s", pp->type.guid);
		mv_json_str(&j, "type", type);
		mv_json_str(&j, "type_name", pp->type.name);
		mv_json_str(&j, "role", mv_role_name(pp->type.role));
		mv_json_str(&j, "label", pp->src->label.v);
		mv_json_str(&j, "partuuid", pp->partuuid);
		mv_json_str(&j, "filesystem", mv_fs_name(pp->fs));
		mv_json_str(&j, "filesystem_id", *pp->fs_id ? pp->fs_id : NULL);
		mv_json_str(&j, "mount", pp->src->mount.v);
		mv_json_u64(&j, "attributes", pp->attributes);
		mv_json_bool(&j, "grow_fs", pp->grow_fs);
		mv_json_bool(&j, "bootable", pp->bootable);
		mv_json_end(&j, '}');
	}
	mv_json_end(&j, ']');

	mv_json_begin(&j, "sources", '[');
	for (size_t i = 0; i < plan->sources.n; i++) {
		const struct mv_plan_source *s = &plan->sources.v[i];
		mv_json_begin(&j, NULL, '{');
		mv_json_str(&j, "role", s->role);
		mv_json_str(&j, "location", s->location);
		mv_json_str(&j, "path", s->path);
		mv_json_str(&j, "sha256", s->sha256);
		mv_json_u64(&j, "strip_components", (uint64_t)s->strip);
		mv_json_begin(&j, "mirrors", '[');
		for (size_t m = 0; m < s->n_mirrors; m++)
			mv_json_str(&j, NULL, s->mirrors[m].v);
		mv_json_end(&j, ']');
		mv_json_end(&j, '}');
	}
	mv_json_end(&j, ']');

	mv_json_begin(&j, "stages", '[');
	for (int st = 0; st < MV_STAGE_COUNT; st++) {
		mv_json_begin(&j, NULL, '{');
		mv_json_str(&j, "name", mv_stage_name((enum mv_stage)st));
		mv_json_begin(&j, "steps", '[');
		for (size_t i = 0; i < plan->steps.n; i++) {
			const struct mv_step *s = &plan->steps.v[i];
			if ((int)s->stage != st)
				continue;
			mv_json_begin(&j, NULL, '{');
			mv_json_str(&j, "action", s->action);
			mv_json_str(&j, "partition", s->partition);
			mv_json_str(&j, "path", s->path);
			mv_json_str(&j, "from", s->from);
			mv_json_str(&j, "content", s->content);
			mv_json_str(&j, "deferred", s->deferred);
			mv_json_end(&j, '}');
		}
		mv_json_end(&j, ']');
		mv_json_end(&j, '}');
	}
	mv_json_end(&j, ']');

	mv_json_str(&j, "bootloader", plan->bootloader);
	mv_json_begin(&j, "handoff", '{');
	mv_json_str(&j, "mode", plan->handoff_mode);
	mv_json_str(&j, "command", plan->handoff_command);
	mv_json_end(&j, '}');
	mv_json_begin(&j, "warnings", '[');
	for (size_t i = 0; i < plan->warnings.n; i++)
		mv_json_str(&j, NULL, plan->warnings.v[i]);
	mv_json_end(&j, ']');
	mv_json_end(&j, '}');
}
