#!/usr/bin/env bash
# Sign a link with nothing but OpenSSL (3.x) and xxd.
#   usage: sign-openssl.sh ALG SECRET_KEY_HEX LINK_HASH_HEX
#   ALG: ed25519 | ecdsa-p256 | ecdsa-secp256k1; prints the signature as 128 lowercase hex chars.
set -euo pipefail
alg=$1 secret=$2 hash=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
printf 'pop:link:v1:%s' "$hash" > "$work/msg"     # the exact signed bytes: ASCII, no newline

case "$alg" in
  ed25519)
    # PKCS#8 wrapping of the 32-byte seed, then a plain RFC 8032 signature over the message bytes.
    echo "302e020100300506032b657004220420$secret" | xxd -r -p > "$work/key.der"
    openssl pkey -inform DER -in "$work/key.der" -out "$work/key.pem"
    openssl pkeyutl -sign -inkey "$work/key.pem" -rawin -in "$work/msg" -out "$work/sig"
    xxd -p -c 64 "$work/sig"
    ;;
  ecdsa-p256|ecdsa-secp256k1)
    if [ "$alg" = ecdsa-p256 ]; then
      curve=06082a8648ce3d030107   # OID prime256v1
      half=7FFFFFFF800000007FFFFFFFFFFFFFFFDE737D56D38BCF4279DCE5617E3192A8
    else
      curve=06052b8104000a         # OID secp256k1
      half=7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
    fi
    # RFC 5915 ECPrivateKey (SEC1) with the curve named, PEM-encoded for openssl.
    body="020101 0420$secret a0$(printf '%02x' $(( ${#curve} / 2 )))$curve"
    body=${body// /}
    echo "30$(printf '%02x' $(( ${#body} / 2 )))$body" | xxd -r -p > "$work/key.der"
    openssl ec -inform DER -in "$work/key.der" -out "$work/key.pem" 2>/dev/null
    # ECDSA over SHA-256 of the message; openssl emits DER and a random nonce, so sign until s is in
    # the lower half of the group (low-S), then print r||s as 32+32 bytes.
    for _ in $(seq 1 64); do
      openssl dgst -sha256 -sign "$work/key.pem" -out "$work/sig.der" "$work/msg"
      ints=$(openssl asn1parse -inform DER -in "$work/sig.der" | awk -F: '/INTEGER/ {print $NF}')
      r=$(echo "$ints" | sed -n 1p) s=$(echo "$ints" | sed -n 2p)
      r=$(printf '%64s' "${r#00}" | tr ' ' 0) s=$(printf '%64s' "${s#00}" | tr ' ' 0)
      r=${r: -64} s=${s: -64}
      if [[ "$s" < "$half" || "$s" == "$half" ]]; then
        echo "$r$s" | tr 'A-F' 'a-f'
        exit 0
      fi
    done
    echo "no low-S signature after 64 tries" >&2; exit 1
    ;;
  *) echo "unknown algorithm $alg" >&2; exit 2 ;;
esac
