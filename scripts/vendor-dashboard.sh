#!/bin/sh
# Re-vendor the dashboard's charting library (uPlot, MIT) from the npm registry into
# server/static/dashboard/vendor/. The dashboard has no build step: the browser loads
# these files as they are, so upgrading is this script plus a look at the pages.
#   scripts/vendor-dashboard.sh            # the version pinned below
#   UPLOT_VERSION=1.6.33 scripts/vendor-dashboard.sh
set -eu
UPLOT_VERSION="${UPLOT_VERSION:-1.6.32}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/server/static/dashboard/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
tarball="$(npm pack --silent "uplot@$UPLOT_VERSION")"
tar -xzf "$tarball"
mkdir -p "$dest"
cp package/dist/uPlot.esm.js "$dest/uPlot.esm.js"
cp package/dist/uPlot.min.css "$dest/uPlot.min.css"
cp package/LICENSE "$dest/LICENSE.uplot"
integrity="$(npm view "uplot@$UPLOT_VERSION" dist.integrity)"
cat > "$dest/README.md" <<README
# Vendored browser libraries of the dashboard

Copied unchanged from the npm registry by \`scripts/vendor-dashboard.sh\` (no build step:
the pages import these files as they are).

| file | package | version | source | licence |
| --- | --- | --- | --- | --- |
| uPlot.esm.js, uPlot.min.css | uplot | $UPLOT_VERSION | https://registry.npmjs.org/uplot/-/$tarball (\`dist/\`) | MIT (LICENSE.uplot) |

npm integrity of the tarball: \`$integrity\`
README
echo "vendored uplot $UPLOT_VERSION into $dest"
