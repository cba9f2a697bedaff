"""Writes a curl config holding one freshly signed CopyImage request (RPC signature 1.0), so
that each timed curl run sends a request with its own nonce: the floor of the benchmark is
one process and one round trip, with the signing done outside the timing."""

import base64
import datetime
import hashlib
import hmac
import os
import sys
import uuid
from urllib.parse import quote


def enc(s):
    return quote(s, safe="-_.~")


params = {
    "AccessKeyId": os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
    "Action": "CopyImage",
    "DestinationRegionId": "cn-shanghai",
    "Format": "JSON",
    "ImageId": sys.argv[1],
    "RegionId": "cn-hangzhou",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": uuid.uuid4().hex,
    "SignatureVersion": "1.0",
    "Timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "Version": "2014-05-26",
}
canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
to_sign = "POST&%2F&" + enc(canonical)
key = (os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] + "&").encode()
signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha1).digest()).decode()
url = f"{os.environ['ALIBABA_CLOUD_ECS_ENDPOINT']}/?{canonical}&Signature={enc(signature)}"
with open(sys.argv[2], "w") as f:
    f.write(f'url = "{url}"\nrequest = "POST"\nsilent\noutput = "/dev/null"\nfail\n')
