#!/usr/bin/env bash
# [Nix] Closure=: a store built elsewhere (here by Debian's nix-bin in a
# private store), given as a directory and as a tarball, seeded beside the
# Nix tarball. Nix judges the image: the registration loads, --verify
# --check-contents is clean, -qR lists the closure, and the GC keeps the
# closure alive through the root microvisor links. A malformed
# registration is refused naming its line.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
export SOURCE_DATE_EPOCH=1700000000
command -v nix-store >/dev/null || { not_ok "nix-store is installed (nix-bin)" "missing"; exit 0; }
U="$TMP/u" && mkdir -p "$U"
tests/fixtures/mknixtar.sh "$U/nix.tar.xz" >"$TMP/nixpaths" 2>"$TMP/mknix.err" ||
	{ not_ok "the miniature Nix tarball is made" "$(cat "$TMP/mknix.err")"; exit 0; }

# The closure: a tree with an executable (no references) and a file that
# refers to it, as a system closure's paths refer to each other.
(
	export NIX_STATE_DIR=$TMP/cs/state NIX_CONF_DIR=$TMP/cs/conf HOME=$TMP/cs/home
	mkdir -p "$NIX_CONF_DIR" "$HOME" "$TMP/pkg/bin"
	printf '#!/bin/sh\necho app\n' >"$TMP/pkg/bin/app" && chmod 0755 "$TMP/pkg/bin/app"
	printf 'data\n' >"$TMP/pkg/data"
	app=$(nix-store --store "$TMP/cs/st" --add "$TMP/pkg")
	top=$(nix-instantiate --store "$TMP/cs/st" --eval --read-write-mode \
		-E "builtins.toFile \"system\" \"runs \${builtins.storePath \"$app\"}/bin/app\"")
	top=${top//\"/}
	echo "$app" >"$TMP/app" && echo "$top" >"$TMP/top"
	mkdir -p "$U/closure/store"
	cp -a "$TMP/cs/st$app" "$TMP/cs/st$top" "$U/closure/store/"
	nix-store --store "$TMP/cs/st" --dump-db $(nix-store --store "$TMP/cs/st" -qR "$top") >"$U/closure/registration"
) 2>"$TMP/closure.err" || { not_ok "the closure is made by nix" "$(cat "$TMP/closure.err")"; exit 0; }
APP=$(cat "$TMP/app") TOP=$(cat "$TMP/top")
# Copied as a user might, without the store's modes: seeding canonicalises.
chmod -R u+w "$U/closure/store"
tar --owner=1000 --group=1000 -C "$U" -cJf "$U/closure.tar.xz" closure

profile() { # NAME CLOSURE
	{ disk_conf "$1" && cat <<CONF; } >"$U/$1.conf"
[Nix]
Tarball=nix.tar.xz
Closure=$2
CONF
}
dbg() { dbg_root "$@"; }

for kind in dir tar; do
	[ $kind = dir ] && src=closure || src=closure.tar.xz
	profile $kind $src
	expect_exit "image with Closure= ($kind)" 0 "$MV" image -q "$U/$kind.conf" -o "$U/$kind.img"
	img="$U/$kind.img"
	e2fsck -fn "$(root_fs "$img")" >"$TMP/fsck" 2>&1 && ok "$kind: e2fsck -fn is clean" || not_ok "$kind: e2fsck -fn is clean" "$(tail -3 "$TMP/fsck")"
	expect_match "$kind: an executable from the closure is 0555, root, mtime 1" \
		"$(dbg "$img" "stat $APP/bin/app" | tr '\n' ' ')" 'Mode: +0555 .*User: +0 +Group: +0 .*mtime: 0x00000001'
	expect_match "$kind: a plain file is 0444" "$(dbg "$img" "stat $APP/data" | tr '\n' ' ')" 'Mode: +0444 .*User: +0 '
	expect_match "$kind: a directory is 0555" "$(dbg "$img" "stat $APP" | tr '\n' ' ')" 'Mode: +0555 .*mtime: 0x00000001'
	R="$TMP/R-$kind" && mkdir -p "$R"
	dbg "$img" "rdump /nix $R" >/dev/null
	dbg "$img" "dump /nix-path-registration $R/nix-path-registration" >/dev/null
	chmod -R u+w "$R/nix"
	(
		export NIX_CONF_DIR="$TMP/nixconf" HOME="$TMP/home"
		mkdir -p "$NIX_CONF_DIR" "$HOME" && echo 'build-users-group =' >"$NIX_CONF_DIR/nix.conf"
		nix-store --store "$R" --load-db <"$R/nix-path-registration" >"$TMP/load" 2>&1 &&
			ok "$kind: nix-store --load-db takes the tarball's and the closure's registration" ||
			not_ok "$kind: nix-store --load-db" "$(cat "$TMP/load")"
		nix-store --store "$R" --verify --check-contents >"$TMP/verify" 2>&1 && ! grep -Eqi 'modified|missing|invalid|error' "$TMP/verify" &&
			ok "$kind: nix-store --verify --check-contents finds no problem" || not_ok "$kind: --verify --check-contents" "$(cat "$TMP/verify")"
		expect_match "$kind: nix-store -qR lists the closure" "$(nix-store --store "$R" -qR "$TOP" 2>&1 | sort | tr '\n' ' ')" \
			"^($APP $TOP|$TOP $APP) \$"
		[ "$(readlink "$R/nix/var/nix/gcroots/microvisor/${TOP#/nix/store/}")" = "$TOP" ] && [ ! -e "$R/nix/var/nix/gcroots/microvisor/${APP#/nix/store/}" ] &&
			ok "$kind: the closure's root, and only it, has a GC root link" || not_ok "$kind: GC root link" "$(ls -l "$R/nix/var/nix/gcroots/microvisor")"
		dead=$(nix-store --store "$R" --gc --print-dead 2>&1)
		grep -q -- "$TOP\|$APP" <<<"$dead" && not_ok "$kind: the GC keeps the closure" "$dead" || ok "$kind: the GC keeps the closure"
		# The judge can fail: without the root link the closure is dead.
		rm "$R/nix/var/nix/gcroots/microvisor/${TOP#/nix/store/}"
		expect_match "$kind: ... and without the link it would not" "$(nix-store --store "$R" --gc --print-dead 2>&1)" "$TOP"
	)
done
expect_match "plan shows the closure's steps" "$("$MV" plan "$U/tar.conf" --image x.img)" 'unpack the closure.s store/ into /nix/store'

# A malformed registration is refused, with its line; nothing is left.
cp -a "$U/closure" "$U/bad" && sed -i '3s/.*/many/' "$U/bad/registration"
profile bad bad
expect_exit "a malformed closure registration is refused" 1 "$MV" image -q "$U/bad.conf" -o "$U/bad.img"
expect_match "... naming the line" "$ERR" 'Closure=bad: .reginfo line 3: "many": expected the NAR size'
[ ! -e "$U/bad.img" ] && ok "... and leaves no image" || not_ok "... and leaves no image" "bad.img exists"
# A NUL byte would end the text early: the records after it would go
# unregistered while their paths are copied. Refused, not cut short.
cp "$U/closure/registration" "$U/bad/registration" && printf '\0/nix/store/x\n' >>"$U/bad/registration"
expect_exit "a closure registration with a NUL byte is refused" 1 "$MV" image -q "$U/bad.conf" -o "$U/bad.img"
expect_match "... saying so" "$ERR" 'Closure=bad: .*registration: a NUL byte'
rm "$U/bad/registration"
expect_exit "a closure without registration is refused" 1 "$MV" image -q "$U/bad.conf" -o "$U/bad.img"
expect_match "... saying what it looked for" "$ERR" 'no registration \(a file named registration or .reginfo beside store/\)'
