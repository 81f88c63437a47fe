from pydantic import BaseModel

from gatekeeper.services.verify import FaceVerdictOut


class VerifyOut(BaseModel):
    faces: list[FaceVerdictOut]
