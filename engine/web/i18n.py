"""Page texts in Chinese and English, and the choice of language (the user's setting, else the browser's)."""
from __future__ import annotations

from typing import Callable

LANGUAGES = ("zh", "en")

TEXTS: dict[str, dict[str, str]] = {
    "app": {"zh": "金桥呼叫中心", "en": "Jinqiao Contact Center"},
    "console": {"zh": "坐席工作台", "en": "Agent console"},
    "wallboard": {"zh": "监控大屏", "en": "Wallboard"},
    "history": {"zh": "通话记录", "en": "Call history"},
    "reports": {"zh": "报表", "en": "Reports"},
    "sign_in": {"zh": "登录", "en": "Sign in"},
    "sign_out": {"zh": "退出", "en": "Sign out"},
    "user_id": {"zh": "工号", "en": "Agent ID"},
    "password": {"zh": "密码", "en": "Password"},
    "bad_login": {"zh": "工号或密码错误", "en": "Wrong ID or password"},
    "too_many": {"zh": "尝试次数过多，请稍后再试", "en": "Too many attempts; try again later"},
    "forbidden": {"zh": "无权访问此页面", "en": "You do not have access to this page"},
    "forbidden_hint": {"zh": "请使用有相应角色的账号登录。", "en": "Sign in with an account that has the right role."},
    "back": {"zh": "返回", "en": "Back"},
    "state": {"zh": "状态", "en": "State"},
    "ready": {"zh": "就绪", "en": "Ready"},
    "not_ready": {"zh": "未就绪", "en": "Not ready"},
    "reason": {"zh": "原因", "en": "Reason"},
    "st_available": {"zh": "空闲", "en": "Available"},
    "st_ringing": {"zh": "振铃", "en": "Ringing"},
    "st_on-call": {"zh": "通话中", "en": "On call"},
    "st_wrap-up": {"zh": "话后处理", "en": "Wrap-up"},
    "st_not-ready": {"zh": "未就绪", "en": "Not ready"},
    "st_logged-out": {"zh": "未签入", "en": "Logged out"},
    "rs_break": {"zh": "休息", "en": "Break"},
    "rs_lunch": {"zh": "用餐", "en": "Lunch"},
    "rs_meeting": {"zh": "会议", "en": "Meeting"},
    "rs_training": {"zh": "培训", "en": "Training"},
    "rs_after_call_work": {"zh": "事后处理", "en": "After-call work"},
    "rs_disposition": {"zh": "待填写处理结果", "en": "Disposition due"},
    "login_phone": {"zh": "签入", "en": "Log in to queues"},
    "no_call": {"zh": "暂无来电", "en": "No call right now"},
    "no_call_hint": {"zh": "来电时客户资料会在接听前自动弹出。", "en": "When a call comes in, the customer's card opens here before you answer."},
    "incoming": {"zh": "来电振铃", "en": "Incoming call"},
    "connected": {"zh": "通话中", "en": "Connected"},
    "ended": {"zh": "通话结束", "en": "Call ended"},
    "unknown_caller": {"zh": "未识别客户", "en": "Unknown caller"},
    "segment": {"zh": "客户分群", "en": "Segment"},
    "value_tier": {"zh": "价值等级", "en": "Value tier"},
    "tags": {"zh": "标签", "en": "Tags"},
    "owner": {"zh": "专属坐席", "en": "Owner"},
    "last_agent": {"zh": "上次坐席", "en": "Last agent"},
    "queue": {"zh": "队列", "en": "Queue"},
    "waited": {"zh": "等待", "en": "Waited"},
    "ivr_path": {"zh": "IVR 路径", "en": "IVR path"},
    "keys": {"zh": "按键", "en": "Keys entered"},
    "recent": {"zh": "最近联系", "en": "Last interactions"},
    "callbacks": {"zh": "待回电", "en": "Open callbacks"},
    "none": {"zh": "无", "en": "None"},
    "transferred_from": {"zh": "转接自坐席", "en": "Transferred from agent"},
    "notes": {"zh": "备注", "en": "Notes"},
    "notes_from": {"zh": "前一坐席备注", "en": "Notes from the previous agent"},
    "disposition": {"zh": "处理结果", "en": "Disposition"},
    "choose": {"zh": "请选择…", "en": "Choose…"},
    "save": {"zh": "保存", "en": "Save"},
    "saved": {"zh": "已保存", "en": "Saved"},
    "disposition_due": {"zh": "请先填写处理结果再就绪", "en": "Set a disposition before going ready"},
    "callback": {"zh": "预约回电", "en": "Schedule a callback"},
    "callback_at": {"zh": "回电时间", "en": "Call back at"},
    "schedule": {"zh": "预约", "en": "Schedule"},
    "transfer": {"zh": "转接", "en": "Transfer"},
    "to_agent": {"zh": "坐席", "en": "Agent"},
    "to_queue": {"zh": "队列", "en": "Queue"},
    "to_number": {"zh": "号码", "en": "Number"},
    "target": {"zh": "目标", "en": "Target"},
    "transfer_now": {"zh": "盲转", "en": "Blind transfer"},
    "time": {"zh": "时间", "en": "Time"},
    "caller": {"zh": "主叫", "en": "Caller"},
    "customer": {"zh": "客户", "en": "Customer"},
    "talk": {"zh": "通话时长", "en": "Talk"},
    "result": {"zh": "结果", "en": "Result"},
    "queues": {"zh": "队列概况", "en": "Queues"},
    "waiting": {"zh": "排队", "en": "Waiting"},
    "longest": {"zh": "最长等待", "en": "Longest wait"},
    "sl": {"zh": "服务水平", "en": "Service level"},
    "abandon": {"zh": "放弃率", "en": "Abandon rate"},
    "today": {"zh": "今日", "en": "today"},
    "agents": {"zh": "坐席", "en": "Agents"},
    "agent": {"zh": "坐席", "en": "Agent"},
    "in_state": {"zh": "持续", "en": "Time in state"},
    "call": {"zh": "通话", "en": "Call"},
    "force": {"zh": "强制状态", "en": "Force state"},
    "monitor": {"zh": "监听", "en": "Listen"},
    "whisper": {"zh": "耳语", "en": "Whisper"},
    "barge": {"zh": "强插", "en": "Barge"},
    "your_phone": {"zh": "您的分机", "en": "Your phone"},
    "monitor_hint": {"zh": "先呼叫您的分机，接听后加入通话。", "en": "Your phone rings first; answer it to join the call."},
    "waiting_chart": {"zh": "排队人数（近 10 分钟）", "en": "Callers waiting (last 10 minutes)"},
    "states_chart": {"zh": "坐席状态", "en": "Agents by state"},
    "live": {"zh": "实时", "en": "Live"},
    "offline": {"zh": "连接中断，正在重连…", "en": "Connection lost, reconnecting…"},
    "language": {"zh": "English", "en": "中文"},
    "log_out": {"zh": "签出", "en": "Log out"},
    "handled": {"zh": "今日接听", "en": "Answered today"},
    "abandoned": {"zh": "放弃", "en": "Abandoned"},
    "yes": {"zh": "是", "en": "Yes"},
    "done": {"zh": "完成", "en": "Done"},
    "error": {"zh": "操作失败", "en": "That did not work"},
    "no_history": {"zh": "还没有通话记录", "en": "No calls yet"},
    # outbound, attended transfer, recording, campaigns
    "st_reserved": {"zh": "外呼预留", "en": "Reserved"},
    "preview": {"zh": "预览外呼", "en": "Preview dialing"},
    "preview_hint": {"zh": "选择预览活动，领取下一位客户。", "en": "Pick a preview campaign to get your next contact."},
    "next_contact": {"zh": "领取下一位", "en": "Next contact"},
    "dial": {"zh": "拨打", "en": "Dial"},
    "skip": {"zh": "跳过", "en": "Skip"},
    "skip_reason": {"zh": "跳过原因", "en": "Reason to skip"},
    "sk_wrong_number": {"zh": "号码错误", "en": "Wrong number"},
    "sk_customer_busy": {"zh": "客户不便", "en": "Customer busy"},
    "sk_not_now": {"zh": "暂不拨打", "en": "Not now"},
    "sk_duplicate": {"zh": "重复联系人", "en": "Duplicate"},
    "sk_other": {"zh": "其他", "en": "Other"},
    "skip_reason_required": {"zh": "请选择跳过原因", "en": "Choose a reason to skip"},
    "attempts": {"zh": "已拨次数", "en": "Attempts"},
    "last_outcome": {"zh": "上次结果", "en": "Last result"},
    "campaign": {"zh": "活动", "en": "Campaign"},
    "script": {"zh": "话术", "en": "Script"},
    "no_script": {"zh": "本活动没有话术", "en": "This campaign has no script"},
    "click_to_dial": {"zh": "手动外呼", "en": "Click to dial"},
    "number": {"zh": "电话号码", "en": "Phone number"},
    "not_dialed": {"zh": "未拨出", "en": "Not dialed"},
    "no_dialer": {"zh": "未启用外呼", "en": "Outbound dialing is not enabled"},
    "dialing": {"zh": "正在呼叫", "en": "Dialing"},
    "consult": {"zh": "咨询转接", "en": "Consult"},
    "consult_hint": {"zh": "先与同事通话，再转出或取消。", "en": "Talk to a colleague first, then transfer or cancel."},
    "consult_now": {"zh": "咨询坐席", "en": "Consult agent"},
    "complete_transfer": {"zh": "完成转接", "en": "Complete transfer"},
    "cancel_consult": {"zh": "取消咨询", "en": "Cancel"},
    "consulting": {"zh": "咨询中", "en": "Consulting"},
    "consult_request": {"zh": "咨询来自", "en": "Consult from"},
    "recording": {"zh": "录音", "en": "Recording"},
    "pause_recording": {"zh": "暂停录音", "en": "Pause recording"},
    "resume_recording": {"zh": "恢复录音", "en": "Resume recording"},
    "recording_paused": {"zh": "录音已暂停（如报卡号）", "en": "Recording paused (card numbers)"},
    "not_recorded": {"zh": "本通话未录音", "en": "This call is not recorded"},
    "campaigns": {"zh": "外呼活动", "en": "Campaigns"},
    "mode": {"zh": "模式", "en": "Mode"},
    "dial_level": {"zh": "拨号比", "en": "Dial level"},
    "abandon_today": {"zh": "今日放弃率", "en": "Abandon today"},
    "abandon_30d": {"zh": "30天放弃率", "en": "Abandon 30 days"},
    "progress": {"zh": "进度", "en": "Progress"},
    "dialed": {"zh": "已拨", "en": "Dialed"},
    "remaining": {"zh": "剩余", "en": "Remaining"},
    "pause": {"zh": "暂停", "en": "Pause"},
    "resume": {"zh": "恢复", "en": "Resume"},
    "cs_running": {"zh": "运行中", "en": "Running"},
    "cs_paused": {"zh": "已暂停", "en": "Paused"},
    "cs_done": {"zh": "已完成", "en": "Done"},
    "cs_draft": {"zh": "草稿", "en": "Draft"},
    "no_campaigns": {"zh": "没有外呼活动", "en": "No campaigns"},
    "bad_input": {"zh": "输入有误", "en": "Check the input"},
}


def pick_language(user_setting: str | None, accept_language: str | None) -> str:
    """The user's own setting wins; else the first supported language the browser asks for; else Chinese."""
    if user_setting in LANGUAGES:
        return user_setting  # type: ignore[return-value]
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        base = tag.strip().lower().split("-")[0]
        if base in LANGUAGES and quality > 0:
            ranked.append((-quality, i, base))
    return sorted(ranked)[0][2] if ranked else "zh"


def translator(language: str) -> Callable[[str], str]:
    """`t(key)`: the text in `language`; an unknown key shows itself (visible in tests and screenshots)."""
    def t(key: str) -> str:
        texts = TEXTS.get(key)
        return texts.get(language, texts["en"]) if texts else key
    return t
