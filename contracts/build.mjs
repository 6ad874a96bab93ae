// Compiles StorageMarket.sol with the pinned solc-js and writes artifacts/StorageMarket.json, the
// artifact that CMake embeds in open-bucket (src/market/CMakeLists.txt) and that the tests and the
// gas benchmark deploy. Warnings fail the build, as in the C++ code.
//
//   node build.mjs           compile and (re)write the artifact
//   node build.mjs --check   compile and compare with the checked-in artifact byte for byte;
//                            exit 1 if they differ (run by ctest as contract_artifact)
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const solc = require('solc');

export const SOURCE = 'StorageMarket.sol';
export const ARTIFACT = join(here, 'artifacts', 'StorageMarket.json');
// Pinned so the bytecode depends on the sources only. cancun: what current mainnet and L2s run.
const SETTINGS = {
  optimizer: { enabled: true, runs: 10000 },
  evmVersion: 'cancun',
  outputSelection: { [SOURCE]: { StorageMarket: ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

/// Compiles `sources` ({name: text}) and returns solc's output; throws with every message on a
/// warning or an error.
export function compile(sources, settings = SETTINGS) {
  const input = {
    language: 'Solidity',
    sources: Object.fromEntries(Object.entries(sources).map(([name, content]) => [name, { content }])),
    settings,
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors ?? []).filter((e) => e.severity !== 'info');
  if (problems.length > 0) throw new Error(problems.map((e) => e.formattedMessage).join('\n'));
  return output;
}

function artifactText() {
  const output = compile({ [SOURCE]: readFileSync(join(here, SOURCE), 'utf8') });
  const contract = output.contracts[SOURCE].StorageMarket;
  const artifact = {
    contractName: 'StorageMarket',
    compiler: { name: 'solc-js', version: solc.version(), settings: { ...SETTINGS, outputSelection: undefined } },
    abi: contract.abi,
    bytecode: '0x' + contract.evm.bytecode.object,
    deployedBytecode: '0x' + contract.evm.deployedBytecode.object,
  };
  return JSON.stringify(artifact, null, 2) + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const fresh = artifactText();
    if (process.argv.includes('--check')) {
      let stored = '';
      try {
        stored = readFileSync(ARTIFACT, 'utf8');
      } catch {
        // missing: reported as a difference below
      }
      if (stored !== fresh) {
        console.error(`contracts/artifacts/StorageMarket.json is not what solc ${solc.version()} builds from ` +
                      `contracts/${SOURCE}: run \`npm run build --prefix contracts\` and commit the artifact`);
        process.exit(1);
      }
      console.log(`artifact matches ${SOURCE} (solc ${solc.version()})`);
    } else {
      const tmp = ARTIFACT + '.tmp';
      writeFileSync(tmp, fresh);
      renameSync(tmp, ARTIFACT);
      const size = (JSON.parse(fresh).deployedBytecode.length - 2) / 2;
      console.log(`wrote artifacts/StorageMarket.json: ${size} bytes of runtime code (limit 24576)`);
    }
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
