// Independent checkers for tests/wallet_test.sh: ethers v6 and jsQR + pngjs, never our code.
//   node check.mjs address MNEMONIC_FILE INDEX        -> the address of m/44'/60'/0'/0/INDEX
//   node check.mjs decrypt KEYSTORE PASSWORD_FILE     -> the address Wallet.fromEncryptedJson opens
//   node check.mjs encrypt KEY_HEX PASSWORD_FILE OUT  -> writes ethers' keystore of the key (scrypt n=4096)
//   node check.mjs tx RAW_HEX                         -> Transaction.from(raw) as JSON (decimal strings)
//   node check.mjs qr PNG_FILE                        -> the text jsQR decodes from the image
import { readFileSync, writeFileSync } from "node:fs";
import { HDNodeWallet, Mnemonic, Transaction, Wallet, encryptKeystoreJson } from "ethers";
import jsQR from "jsqr";
import { PNG } from "pngjs";

const firstLine = (file) => readFileSync(file, "utf8").split("\n")[0];
const [command, ...args] = process.argv.slice(2);

switch (command) {
  case "address": {
    const phrase = readFileSync(args[0], "utf8").trim().split(/\s+/).join(" ");
    const wallet = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(phrase), `m/44'/60'/0'/0/${args[1]}`);
    console.log(wallet.address);
    break;
  }
  case "decrypt": {
    const wallet = await Wallet.fromEncryptedJson(readFileSync(args[0], "utf8"), firstLine(args[1]));
    console.log(wallet.address);
    break;
  }
  case "encrypt": {
    const wallet = new Wallet(args[0]);
    const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey },
                                           firstLine(args[1]), { scrypt: { N: 4096 } });
    writeFileSync(args[2], json);
    console.log(wallet.address);
    break;
  }
  case "tx": {
    const tx = Transaction.from(args[0]);
    console.log(JSON.stringify({
      type: tx.type, chainId: tx.chainId.toString(), nonce: tx.nonce, to: tx.to, from: tx.from, hash: tx.hash,
      value: tx.value.toString(), gasLimit: tx.gasLimit.toString(), maxFeePerGas: tx.maxFeePerGas.toString(),
      maxPriorityFeePerGas: tx.maxPriorityFeePerGas.toString(), data: tx.data,
    }));
    break;
  }
  case "qr": {
    const png = PNG.sync.read(readFileSync(args[0]));
    const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    if (!code) {
      console.error("jsQR found no QR code");
      process.exit(1);
    }
    console.log(code.data);
    break;
  }
  default:
    console.error(`unknown command ${command}`);
    process.exit(2);
}
