"""One CopyImage call with the official Alibaba Cloud Python SDK (aliyun-python-sdk-core +
aliyun-python-sdk-ecs), against the endpoint in ALIBABA_CLOUD_ECS_ENDPOINT: what a release
engineer's script does today, for the side-by-side benchmark."""

import json
import os
import sys
from urllib.parse import urlparse

from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.CopyImageRequest import CopyImageRequest

endpoint = urlparse(os.environ["ALIBABA_CLOUD_ECS_ENDPOINT"])
client = AcsClient(
    os.environ["ALIBABA_CLOUD_ACCESS_KEY_ID"],
    os.environ["ALIBABA_CLOUD_ACCESS_KEY_SECRET"],
    "cn-hangzhou",
)
request = CopyImageRequest()
request.set_endpoint(endpoint.netloc)
request.set_protocol_type("http")
request.set_ImageId(sys.argv[1])
request.set_DestinationRegionId("cn-shanghai")
print(json.loads(client.do_action_with_exception(request))["ImageId"])
