{
  "format": "dermstream-manifest-signature/1",
  "algorithm": "Ed25519",
  "keyId": "ac6224d55db8ff33",
  "signature": "/Of8/r8fTDJJhfQi9zmYK1Ls3xHLp4NtMgliiwsVhyQMLi06XeJb3PddXlkFIoPtf/+oUnf1O31y00IKKIBODQ==",
  "signedAt": "2026-12-02T02:15:23.991Z"
}
