#!/usr/bin/env bash
# Refreshes the vendored Cytoscape.js build in explore/assets/vendor/ from the
# npm registry. Usage (from anywhere):
#
#   bash explore/refresh-vendor.sh [CYTOSCAPE_VERSION]
#
# The default is the version currently vendored. After bumping it, update
# CytoscapeVersion in explore/explore.go and assets/vendor/README.md, then run:
# go test ./explore/ . (the browser test needs Chromium).
set -euo pipefail

CYTOSCAPE_VERSION="${1:-3.35.0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
vendor="$here/assets/vendor"
scratch="$(mktemp -d /tmp/policygraph-explore-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

cd "$scratch"
npm init -y >/dev/null
npm install --no-audit --no-fund --save-exact "cytoscape@$CYTOSCAPE_VERSION" >/dev/null
nm="$scratch/node_modules"

rm -f "$vendor"/cytoscape-*.min.js
# The source map is not vendored; drop any reference to it so that a browser
# with DevTools open does not request it.
sed -e '/^\/\/# sourceMappingURL=/d' "$nm/cytoscape/dist/cytoscape.min.js" >"$vendor/cytoscape-$CYTOSCAPE_VERSION.min.js"
cp "$nm/cytoscape/LICENSE" "$vendor/cytoscape-LICENSE.txt"

sha256sum "$vendor/cytoscape-$CYTOSCAPE_VERSION.min.js"
