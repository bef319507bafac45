#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Sourced by the set-up scripts: ensure_packages TAG PACKAGE... installs the Debian packages that are
# not installed yet, with apt-get. Nothing to install: returns at once, as any user. Something to
# install: needs root; a user who has sudo is asked through it, otherwise the script says what to run.

ensure_packages() {
	local tag=$1
	shift
	local missing=() p st
	for p in "$@"; do
		st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[ "$st" = "install ok installed" ] || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "$tag: all packages already installed: $*"
		return 0
	fi

	local run=()
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "$tag: missing packages: ${missing[*]}" >&2
			echo "$tag: installing them needs root (apt-get) and there is no sudo: run this script as root." >&2
			return 1
		fi
		echo "$tag: missing packages: ${missing[*]}: installing them with sudo apt-get"
		run=(sudo)
	fi

	echo "$tag: installing: ${missing[*]}"
	# apt-get update only when needed: no package lists yet, or the install fails with the lists we
	# have (e.g. they are stale).
	if ! ls /var/lib/apt/lists/*_Packages >/dev/null 2>&1; then
		echo "$tag: no package lists: apt-get update"
		"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
	fi
	if ! "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
		echo "$tag: install failed with the current lists: apt-get update and retry"
		"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
		"${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	fi
	echo "$tag: installed: ${missing[*]}"
}
