#!/usr/bin/env bash
# Refreshes the vendored assets of the web front ends from the npm registry.
# Usage (from anywhere):
#
#   bash web/refresh-assets.sh ide [GRAPHIQL_VERSION] [REACT_VERSION] [GRAPHQL_VERSION] [EXPLORER_VERSION]
#   bash web/refresh-assets.sh explorer [CYTOSCAPE_VERSION]
#
# Defaults are the versions currently vendored. After bumping a version, update
# its constant in web/ide.go (GraphiQLVersion, ReactVersion, ExplorerVersion)
# or web/explore.go (CytoscapeVersion) and the assets' README
# (web/ide/assets/README.md, web/explore/assets/vendor/README.md), then run:
# go test ./web/ ./e2e/ (the browser tests need Chromium).
#
# ide: GraphiQL, React, ReactDOM and @graphiql/plugin-explorer into
# web/ide/assets/, with the licences of everything they bundle.
# EXPLORER_VERSION is the version of @graphiql/plugin-explorer, the query
# builder panel. It must be the release made with GRAPHIQL_VERSION: its
# peerDependency on @graphiql/react has to accept the @graphiql/react that
# graphiql.min.js bundles (the script checks it), because its UMD build uses
# the copy of @graphiql/react that graphiql.min.js exposes as GraphiQL.React.
#
# explorer: the Cytoscape.js build into web/explore/assets/vendor/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
scratch="$(mktemp -d /tmp/policygraph-web-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
nm="$scratch/node_modules"

# npm_install installs the given npm packages (exact versions) into the
# scratch directory (the working directory), whose node_modules is $nm.
npm_install() {
  npm init -y >/dev/null
  npm install --no-audit --no-fund --save-exact "$@" >/dev/null
}

# strip_map copies $1 to $2 without source-map comments: the maps are not
# vendored, and a browser with DevTools open would otherwise request them (404).
strip_map() { sed -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$1" >"$2"; }

# refresh_ide [GRAPHIQL_VERSION] [REACT_VERSION] [GRAPHQL_VERSION] [EXPLORER_VERSION]
refresh_ide() {
  GRAPHIQL_VERSION="${1:-3.8.3}"
  REACT_VERSION="${2:-18.3.1}"
  GRAPHQL_VERSION="${3:-16.9.0}"  # the graphql-js version bundled in graphiql.min.js
  EXPLORER_VERSION="${4:-3.2.5}"  # @graphiql/plugin-explorer, released with graphiql 3.8.3
  assets="$here/ide/assets"

  # --legacy-peer-deps: graphiql-explorer (bundled into the plugin's UMD build)
  # still declares peers react ^15 || ^16 and graphql <= 15, which npm would
  # otherwise "override" with a warning; the plugin's own peers are checked below.
  npm_install --legacy-peer-deps \
    "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION" "graphql@$GRAPHQL_VERSION" \
    "@graphiql/plugin-explorer@$EXPLORER_VERSION"

  # The explorer's UMD build runs against the @graphiql/react inside
  # graphiql.min.js: refuse a pair whose versions do not fit (npm ls exits
  # non-zero and prints "invalid" when a peer range is not met).
  if ! npm ls @graphiql/react >"$scratch/peers" 2>&1; then
    cat "$scratch/peers" >&2
    echo "@graphiql/plugin-explorer@$EXPLORER_VERSION does not fit graphiql@$GRAPHIQL_VERSION; pass the explorer released with it" >&2
    exit 1
  fi

  # Drop previously vendored builds, then copy the new ones under versioned names.
  rm -f "$assets"/graphiql-*.min.js "$assets"/graphiql-*.min.css "$assets"/react-*.production.min.js \
    "$assets"/graphiql-plugin-explorer-*.umd.js "$assets"/graphiql-plugin-explorer-*.css
  rm -rf "$assets/LICENSES"
  mkdir -p "$assets/LICENSES"

  strip_map "$nm/graphiql/graphiql.min.js"  "$assets/graphiql-$GRAPHIQL_VERSION.min.js"
  strip_map "$nm/graphiql/graphiql.min.css" "$assets/graphiql-$GRAPHIQL_VERSION.min.css"
  strip_map "$nm/react/umd/react.production.min.js"         "$assets/react-$REACT_VERSION.production.min.js"
  strip_map "$nm/react-dom/umd/react-dom.production.min.js" "$assets/react-dom-$REACT_VERSION.production.min.js"
  strip_map "$nm/@graphiql/plugin-explorer/dist/index.umd.js" "$assets/graphiql-plugin-explorer-$EXPLORER_VERSION.umd.js"
  strip_map "$nm/@graphiql/plugin-explorer/dist/style.css"    "$assets/graphiql-plugin-explorer-$EXPLORER_VERSION.css"

  # The page's Content-Security-Policy has no 'unsafe-eval': refuse an explorer
  # build that evaluates strings, and one that expects other globals than the
  # React and GraphiQL (GraphiQL.React, GraphiQL.GraphQL) the page loads.
  explorer_js="$assets/graphiql-plugin-explorer-$EXPLORER_VERSION.umd.js"
  if grep -Eq '(^|[^A-Za-z0-9_$.])(eval\(|new Function\b|Function\()' "$explorer_js"; then
    echo "the explorer plugin's build uses eval or Function(); the page's CSP forbids it" >&2
    exit 1
  fi
  if ! head -c 1000 "$explorer_js" | grep -Eq '[A-Za-z_$]+\.React,[A-Za-z_$]+\.GraphiQL\.React,[A-Za-z_$]+\.GraphiQL\.GraphQL\)'; then
    echo "the explorer plugin's UMD wrapper expects other globals than React, GraphiQL.React, GraphiQL.GraphQL" >&2
    exit 1
  fi

  # No run-time loads from the network: the CSS must only use data: URLs.
  for css in "$assets/graphiql-$GRAPHIQL_VERSION.min.css" "$assets/graphiql-plugin-explorer-$EXPLORER_VERSION.css"; do
    if grep -Eqo 'url\((["'\'']?)(https?:)?//' "$css" || grep -q '@import' "$css"; then
      echo "$css references external URLs; refusing to vendor it" >&2
      exit 1
    fi
  done

  # Licences: the top-level packages, plus every package webpack bundled
  # into graphiql.min.js (found from its module ids), plus graphiql's own
  # workspace packages (@graphiql/react, @graphiql/toolkit, codemirror-graphql,
  # graphql-language-service), react-dom's scheduler, and graphiql-explorer,
  # which the explorer plugin's UMD build bundles.
  {
    printf '%s\n' graphiql react react-dom scheduler @graphiql/react @graphiql/toolkit codemirror-graphql graphql-language-service \
      @graphiql/plugin-explorer graphiql-explorer
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
    echo "react-$REACT_VERSION / react-dom-$REACT_VERSION are the UMD builds of react and react-dom;"
    echo "graphiql-plugin-explorer-$EXPLORER_VERSION.umd.js is @graphiql/plugin-explorer's UMD build, which bundles graphiql-explorer."
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
}

# refresh_explorer [CYTOSCAPE_VERSION]
refresh_explorer() {
  CYTOSCAPE_VERSION="${1:-3.35.0}"
  vendor="$here/explore/assets/vendor"
  npm_install "cytoscape@$CYTOSCAPE_VERSION"
  rm -f "$vendor"/cytoscape-*.min.js
  strip_map "$nm/cytoscape/dist/cytoscape.min.js" "$vendor/cytoscape-$CYTOSCAPE_VERSION.min.js"
  cp "$nm/cytoscape/LICENSE" "$vendor/cytoscape-LICENSE.txt"
  sha256sum "$vendor/cytoscape-$CYTOSCAPE_VERSION.min.js"
}

what="${1:-}"
shift || true
case "$what" in
  ide) refresh_ide "$@" ;;
  explorer) refresh_explorer "$@" ;;
  *) echo "usage: bash web/refresh-assets.sh ide [GRAPHIQL REACT GRAPHQL EXPLORER] | explorer [CYTOSCAPE]" >&2; exit 2 ;;
esac
