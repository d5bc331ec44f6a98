// The `prepack` of every public package: `npm pack` keeps `workspace:*`
// dependencies (an install of the tarball then fails with EUNSUPPORTEDPROTOCOL)
// and leaves out the LICENSE; `pnpm pack`, run by scripts/pack.sh, does neither.
if (!/\bpnpm\//.test(process.env.npm_config_user_agent ?? '')) {
  console.error(
    'pack Drover packages with `bash scripts/pack.sh <dir>` (pnpm pack): npm pack leaves ' +
      '`workspace:*` dependencies that npm cannot install (see docs/client.md)',
  );
  process.exit(1);
}
