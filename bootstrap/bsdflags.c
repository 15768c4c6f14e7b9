#include "bsdflags.h"

#include <string.h>

static const struct {
	const char *name;
	uint32_t bit;
} names[] = {
	{"nodump", 0x1},        {"uchg", 0x2},         {"uchange", 0x2},     {"uimmutable", 0x2},
	{"uappnd", 0x4},        {"uappend", 0x4},      {"opaque", 0x8},      {"uunlnk", 0x10},
	{"uunlink", 0x10},      {"usystem", 0x80},     {"system", 0x80},     {"usparse", 0x100},
	{"sparse", 0x100},      {"uoffline", 0x200},   {"offline", 0x200},   {"ureparse", 0x400},
	{"reparse", 0x400},     {"uarch", 0x800},      {"uarchive", 0x800},  {"urdonly", 0x1000},
	{"rdonly", 0x1000},     {"readonly", 0x1000},  {"uhidden", 0x8000},  {"hidden", 0x8000},
	{"arch", 0x10000},      {"archived", 0x10000}, {"schg", 0x20000},    {"schange", 0x20000},
	{"simmutable", 0x20000}, {"sappnd", 0x40000},  {"sappend", 0x40000}, {"sunlnk", 0x100000},
	{"sunlink", 0x100000},
};

uint32_t mv_bsd_fflags(const char *text)
{
	uint32_t flags = 0;
	while (text && *text) {
		size_t len = strcspn(text, ", \t");
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strlen(names[i].name) == len && strncmp(text, names[i].name, len) == 0)
				flags |= names[i].bit;
		text += len;
		text += strspn(text, ", \t");
	}
	return flags;
}
