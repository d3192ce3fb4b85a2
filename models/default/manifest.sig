{
  "format": "dermstream-manifest-signature/1",
  "algorithm": "Ed25519",
  "keyId": "ac6224d55db8ff33",
  "signature": "awKscw4wmkPCoep0fqWlX5din50bi5YyTlyYcfuKmGB7m3InlmONyCUhxwftbmy3TzizYVoSRFppFoRNJLP7CQ==",
  "signedAt": "2026-12-02T01:51:31.066Z"
}
