#!/usr/bin/env bash
# Writes the .meta file Unity needs beside every asset of a UPM package folder, for those that
# have none:   engine_plugins/unity/unity-meta.sh PACKAGE_DIR
#
# Why committed, and why computed: a package installed from git or a tarball is read-only to
# Unity, which then ignores any asset without a .meta ("has no meta file, but it's in an immutable
# folder"), and GUIDs are how scenes and prefabs refer to scripts, so they must never change.
# The GUID is the MD5 of "<package folder name>/<path in the package>": the same file always gets
# the same GUID on every machine, a new file gets one without opening Unity, and a moved file gets
# a new one (as Unity would, unless moved inside the Editor). Folders ending in "~" (Samples~,
# Documentation~) and dot files are not imported by Unity and get none. tests/test_unity_package.py
# checks every committed .meta against this rule.
set -euo pipefail
[[ $# -eq 1 && -d $1 ]] || { echo "usage: $0 PACKAGE_DIR" >&2; exit 2; }
pkg=$(cd "$1" && pwd)
name=$(basename "$pkg")

importer() {  # the importer block for a path (folders are handled by the caller)
  case "$1" in
    *.cs) printf 'MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n  executionOrder: 0\n  icon: {instanceID: 0}\n' ;;
    *.asmdef) printf 'AssemblyDefinitionImporter:\n  externalObjects: {}\n' ;;
    */package.json|package.json) printf 'PackageManifestImporter:\n  externalObjects: {}\n' ;;
    *.md|*.json|*.txt) printf 'TextScriptImporter:\n  externalObjects: {}\n' ;;
    *.dll) printf 'PluginImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  iconMap: {}\n  executionOrder: {}\n  defineConstraints: []\n  isPreloaded: 0\n  isOverridable: 0\n  isExplicitlyReferenced: 0\n  validateReferences: 1\n  platformData:\n  - first:\n      Any: \n    second:\n      enabled: 1\n      settings: {}\n' ;;
    *) printf 'DefaultImporter:\n  externalObjects: {}\n' ;;
  esac
}

written=0
while IFS= read -r -d '' path; do
  rel=${path#"$pkg"/}
  [[ -e "$path.meta" ]] && continue
  guid=$(printf '%s' "$name/$rel" | md5sum | cut -c1-32)
  {
    printf 'fileFormatVersion: 2\nguid: %s\n' "$guid"
    if [[ -d $path ]]; then printf 'folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n'; else importer "$rel"; fi
    printf '  userData: \n  assetBundleName: \n  assetBundleVariant: \n'
  } >"$path.meta"
  written=$((written + 1))
done < <(find "$pkg" -mindepth 1 \( -name '*~' -o -name '.*' \) -prune -o ! -name '*.meta' -print0 | LC_ALL=C sort -z)
echo "unity-meta: $written .meta files written in $pkg"
