{
  "format": "dermstream-manifest-signature/1",
  "algorithm": "Ed25519",
  "keyId": "ac6224d55db8ff33",
  "signature": "mCwYtmaCVW3nRC5ItMuybFICSP5XtURz9mMh27LkcWBx8DGXCe9+QteQfNqqrPCKnr1Ksesage+eLkJ+qmoNAg==",
  "signedAt": "2026-12-02T01:20:11.824Z"
}
