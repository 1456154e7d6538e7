"""`show channels|calls|bridged_calls|detailed_calls [as json]` built from live channels (§7 shapes)."""
from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.sim.channel import Channel
    from engine.sim.switch import Switch

CHANNEL_COLS = ("uuid direction created created_epoch name state cid_name cid_num ip_addr dest application "
                "application_data dialplan context read_codec read_rate read_bit_rate write_codec write_rate "
                "write_bit_rate secure hostname presence_id presence_data accountcode callstate callee_name "
                "callee_num callee_direction call_uuid sent_callee_name sent_callee_num initial_cid_name "
                "initial_cid_num initial_ip_addr initial_dest initial_dialplan initial_context").split()
CALL_A_COLS = ("uuid direction created created_epoch name state cid_name cid_num ip_addr dest presence_id "
               "presence_data accountcode callstate callee_name callee_num callee_direction call_uuid hostname "
               "sent_callee_name sent_callee_num").split()
CALL_B_COLS = [c for c in CALL_A_COLS if c not in ("hostname", "call_uuid")]
DETAILED_COLS = CHANNEL_COLS[:CHANNEL_COLS.index("initial_cid_name")]


def channel_row(sw: Switch, ch: Channel) -> dict[str, str]:
    p = ch.profile
    bridged = ch.bridged_to
    codec = ch.has_codec
    app, app_data = "", ""
    if ch.apps:
        app, app_data = ch.apps[-1]
    return {
        "uuid": ch.uuid, "direction": ch.direction,
        "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ch.created)),
        "created_epoch": str(int(ch.created)), "name": ch.name, "state": ch.state,
        "cid_name": p.caller_id_name, "cid_num": p.caller_id_number, "ip_addr": p.network_addr,
        "dest": p.destination_number, "application": app, "application_data": app_data,
        "dialplan": p.dialplan, "context": p.context, "read_codec": "PCMU" if codec else "",
        "read_rate": "8000" if codec else "", "read_bit_rate": "64000" if codec else "",
        "write_codec": "PCMU" if codec else "", "write_rate": "8000" if codec else "",
        "write_bit_rate": "64000" if codec else "", "secure": "", "hostname": sw.hostname,
        "presence_id": ch.presence_id, "presence_data": ch.get_var("presence_data"),
        "accountcode": ch.get_var("accountcode"), "callstate": ch.callstate,
        "callee_name": bridged.profile.callee_id_name if bridged else "",
        "callee_num": bridged.profile.callee_id_number if bridged else "",
        "callee_direction": "SEND" if bridged else "",
        "call_uuid": ch.get_var("call_uuid") if bridged or ch.direction == "outbound" else "",
        "sent_callee_name": bridged.profile.callee_id_name if bridged else "",
        "sent_callee_num": bridged.profile.callee_id_number if bridged else "",
        "initial_cid_name": p.caller_id_name, "initial_cid_num": p.caller_id_number,
        "initial_ip_addr": p.network_addr, "initial_dest": p.destination_number, "initial_dialplan": p.dialplan,
        "initial_context": p.context}


def _rows(sw: Switch, kind: str) -> tuple[list[str], list[dict[str, str]]]:
    chans = sorted(sw.channels.values(), key=lambda c: c.created)
    if kind == "channels":
        return CHANNEL_COLS, [channel_row(sw, c) for c in chans]
    detailed = kind == "detailed_calls"
    a_cols = DETAILED_COLS if detailed else CALL_A_COLS
    b_cols = DETAILED_COLS if detailed else CALL_B_COLS
    cols = a_cols + ["b_" + c for c in b_cols] + ["call_created_epoch"]
    rows = []
    seen: set[str] = set()
    for c in chans:
        if c.uuid in seen:
            continue
        b = c.bridged_to
        if b is not None and c.other_type == "originator":
            continue                    # the B-leg is listed with its A-leg
        row = {k: channel_row(sw, c)[k] for k in a_cols}
        brow = channel_row(sw, b) if b is not None else {}
        for k in b_cols:
            row["b_" + k] = brow.get(k, "")
        row["call_created_epoch"] = str(int(c.created)) if b is not None else ""
        seen.add(c.uuid)
        if b is not None:
            seen.add(b.uuid)
        if kind == "bridged_calls" and b is None:
            continue
        rows.append(row)
    return cols, rows


def show(sw: Switch, arg: str) -> str:
    words = arg.split()
    if not words:
        return "-USAGE: channels|calls|detailed_calls|bridged_calls [as json]\n"
    kind = words[0].lower()
    if kind not in ("channels", "calls", "detailed_calls", "bridged_calls"):
        return "-ERR Invalid command\n"
    cols, rows = _rows(sw, kind)
    if len(words) > 1 and words[1] == "count":
        return "\n%d total.\n" % len(rows)
    if "json" in words[1:]:
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}, ensure_ascii=False, separators=(",", ":"))
    if not rows:
        return "\n0 total.\n"
    lines = [",".join(cols)] + [",".join(r[c] for c in cols) for r in rows]
    return "\n".join(lines) + "\n\n%d total.\n" % len(rows)
