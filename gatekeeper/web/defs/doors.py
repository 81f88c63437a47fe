from pydantic import BaseModel, Field


class DoorOut(BaseModel):
    """A door the access policy knows or that reported a heartbeat, with both."""

    door_id: str
    timezone: str | None
    lockdown: bool
    state: str = Field(description="running, stopped (no heartbeat for three intervals), no-frames, camera-fault or never-reported")
    state_detail: str
    heartbeat_at: str | None
    last_frame_at: str | None
    fps: float | None
    camera: str | None
    model_version: str | None
    gallery_generation: int | None
    people: int | None


class DoorsOut(BaseModel):
    doors: list[DoorOut]
