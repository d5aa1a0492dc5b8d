#!/usr/bin/env bash
# Refreshes the vendored GraphiQL assets in graph/ide/assets/ from the npm
# registry. Usage (from anywhere):
#
#   bash graph/ide/refresh-assets.sh [GRAPHIQL_VERSION] [REACT_VERSION] [GRAPHQL_VERSION]
#
# Defaults are the versions currently vendored. After bumping a version, update
# the constants in graph/ide/ide.go (GraphiQLVersion, ReactVersion) and
# assets/README.md, then run: go test ./graph/ide/
set -euo pipefail

GRAPHIQL_VERSION="${1:-3.8.3}"
REACT_VERSION="${2:-18.3.1}"
GRAPHQL_VERSION="${3:-16.9.0}"  # the graphql-js version bundled in graphiql.min.js

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
assets="$here/assets"
scratch="$(mktemp -d /tmp/policygraph-ide-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

cd "$scratch"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact \
  "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" "graphql@$GRAPHQL_VERSION" >/dev/null
nm="$scratch/node_modules"

# Drop previously vendored builds, then copy the new ones under versioned names.
rm -f "$assets"/graphiql-*.min.js "$assets"/graphiql-*.min.css "$assets"/react-*.production.min.js
rm -rf "$assets/LICENSES"
mkdir -p "$assets/LICENSES"

# Source-map comments are stripped: the maps are not vendored and a browser
# with DevTools open would otherwise request them (404).
strip_map() { sed -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$1" >"$2"; }
strip_map "$nm/graphiql/graphiql.min.js"  "$assets/graphiql-$GRAPHIQL_VERSION.min.js"
strip_map "$nm/graphiql/graphiql.min.css" "$assets/graphiql-$GRAPHIQL_VERSION.min.css"
strip_map "$nm/react/umd/react.production.min.js"         "$assets/react-$REACT_VERSION.production.min.js"
strip_map "$nm/react-dom/umd/react-dom.production.min.js" "$assets/react-dom-$REACT_VERSION.production.min.js"

# No run-time loads from the network: the CSS must only use data: URLs.
if grep -Eqo 'url\((["'\'']?)(https?:)?//' "$assets/graphiql-$GRAPHIQL_VERSION.min.css" ||
   grep -q '@import' "$assets/graphiql-$GRAPHIQL_VERSION.min.css"; then
  echo "graphiql CSS references external URLs; refusing to vendor it" >&2
  exit 1
fi

# Licences: the three top-level packages, plus every package webpack bundled
# into graphiql.min.js (found from its module ids), plus graphiql's own
# workspace packages (@graphiql/react, @graphiql/toolkit, codemirror-graphql,
# graphql-language-service) and react-dom's scheduler.
{
  printf '%s\n' graphiql react react-dom scheduler @graphiql/react @graphiql/toolkit codemirror-graphql graphql-language-service
  grep -o '"\.\./\.\./\.\./node_modules/[^"]*"' "$nm/graphiql/graphiql.min.js" |
    sed -E 's#"\.\./\.\./\.\./node_modules/((@[^/]+/)?[^/]+)/.*#\1#'
} | sort -u >"$scratch/pkgs"

# Packages bundled into graphiql.min.js that are not runtime dependencies of
# the npm package (e.g. graphql-ws) are installed beside it just for their
# licence files.
missing=()
while read -r pkg; do
  [ -d "$nm/$pkg" ] || [ -n "$(find "$nm" -type d -path "*/node_modules/$pkg" | head -n1)" ] || missing+=("$pkg")
done <"$scratch/pkgs"
if [ "${#missing[@]}" -gt 0 ]; then
  mkdir -p "$scratch/extra"
  npm install --no-audit --no-fund --prefix "$scratch/extra" "${missing[@]}" >/dev/null
fi

bundled_graphql="$(grep -o "const version = exports.version = '[^']*'" "$nm/graphiql/graphiql.min.js" | head -n1 | grep -o "[0-9][^']*" || true)"
if [ -n "$bundled_graphql" ] && [ "$bundled_graphql" != "$GRAPHQL_VERSION" ]; then
  echo "note: graphiql.min.js bundles graphql-js $bundled_graphql; pass it as the third argument to match" >&2
fi

index="$assets/LICENSES/INDEX.md"
{
  echo "# Licences of the vendored code"
  echo
  echo "graphiql-$GRAPHIQL_VERSION.min.js bundles the packages below (besides graphiql itself);"
  echo "react-$REACT_VERSION / react-dom-$REACT_VERSION are the UMD builds of react and react-dom."
  echo "Versions are those npm resolved when the assets were refreshed; the copies bundled inside"
  echo "graphiql.min.js may differ (its graphql-js is ${bundled_graphql:-unknown}); the licence texts are the same."
  echo
  echo "| package | version | licence | file |"
  echo "| --- | --- | --- | --- |"
} >"$index"
while read -r pkg; do
  dir="$nm/$pkg"
  # A bundled package may be nested under another one.
  [ -d "$dir" ] || dir="$(find "$nm" -type d -path "*/node_modules/$pkg" | head -n1)"
  [ -n "$dir" ] && [ -d "$dir" ] || dir="$scratch/extra/node_modules/$pkg"
  [ -n "$dir" ] && [ -d "$dir" ] || { echo "warning: $pkg not found in node_modules" >&2; continue; }
  ver="$(node -p "require('$dir/package.json').version")"
  lic="$(node -p "const p=require('$dir/package.json'); p.license || (p.licenses||[]).map(l=>l.type||l).join(' OR ') || 'see package'")"
  out="${pkg//\//__}.txt"
  f="$(find "$dir" -maxdepth 1 -type f \( -iname 'LICEN[CS]E*' -o -iname 'COPYING*' \) | head -n1)"
  if [ -n "$f" ]; then
    cp "$f" "$assets/LICENSES/$out"
  else
    printf '%s %s is published under the %s licence (package.json); the npm package ships no licence file.\n' "$pkg" "$ver" "$lic" >"$assets/LICENSES/$out"
  fi
  echo "| $pkg | $ver | $lic | $out |" >>"$index"
done <"$scratch/pkgs"

ls -l "$assets"
du -sh "$assets"
