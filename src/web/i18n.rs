//! The dashboard's words in zh-CN (the default) and English. Templates read them as `t.<key>`;
//! enumerated values are keyed `<family>_<value>` (`status_on_track`), and a test checks that
//! every value of every family shown has both translations.

use std::{collections::BTreeMap, sync::OnceLock};

use crate::mail::Locale;

/// `(key, zh-CN, English)`.
const WORDS: &[(&str, &str, &str)] = &[
    ("app", "商家激励平台", "Merchant incentives"),
    ("other_lang_name", "English", "中文"),
    ("nav_goals", "目标", "Goals"),
    ("nav_structure", "GMV 结构", "GMV structure"),
    ("nav_leaderboard", "排行榜", "Leaderboard"),
    ("nav_merchants", "商家", "Merchants"),
    ("nav_review", "审核队列", "Review queue"),
    ("nav_outbox", "邮件与 Webhook", "Outbox and webhooks"),
    ("role_admin", "管理员", "Admin"),
    ("role_reviewer", "审核员", "Reviewer"),
    ("role_analyst", "分析员", "Analyst"),
    ("sign_in_title", "员工登录", "Staff sign-in"),
    ("staff_token", "员工令牌", "Staff token"),
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出", "Sign out"),
    (
        "sign_in_hint",
        "使用 ADMIN_TOKEN 或 `merchant-incentives staff create` 生成的令牌。",
        "Use ADMIN_TOKEN or a token made with `merchant-incentives staff create`.",
    ),
    (
        "wrong_token",
        "令牌无效或已吊销。",
        "The token is unknown or revoked.",
    ),
    ("signed_out", "已退出。", "Signed out."),
    (
        "form_expired",
        "表单已过期，请重试。",
        "The form has expired; please try again.",
    ),
    (
        "needs_role",
        "你的角色无权执行此操作。",
        "Your role may not do this.",
    ),
    ("not_found", "未找到。", "Not found."),
    ("bad_request", "请求无效。", "The request is not valid."),
    (
        "server_error",
        "服务器出错，请稍后再试。",
        "Something went wrong on the server; please try again.",
    ),
    ("back_to_goals", "返回目标", "Back to goals"),
    (
        "no_programs",
        "还没有激励计划。",
        "There are no programmes yet.",
    ),
    ("goal", "目标", "Goal"),
    ("subjects", "参与对象", "Subjects"),
    ("top_tier_reached", "已达最高档", "At the top tier"),
    (
        "projected_top_tier",
        "预计达最高档",
        "Projected to reach the top tier",
    ),
    ("tier", "档位", "Tier"),
    ("threshold", "门槛", "Threshold"),
    ("at_or_above", "达到或超过", "At or above"),
    (
        "goals_chart_caption",
        "每日达到各档位（或更高）的对象数，与预计达最高档的对象数和目标。",
        "Subjects at or above each tier by day, with those projected to reach the top tier and the goal.",
    ),
    ("projected_series", "预计达最高档", "Projected to top tier"),
    ("goal_rule", "目标", "Goal"),
    (
        "structure_hint",
        "已审核商家的 GMV，占平台自身 GMV 的份额（基点精度）。",
        "GMV of approved merchants as shares of the marketplace's own GMV.",
    ),
    (
        "share_chart_caption",
        "按月份额：品牌直播与产业带。缺少平台 GMV 的月份不画点。",
        "Shares by month: brand live stream and industry belt. Months without the platform's GMV have no point.",
    ),
    ("month_column", "月份", "Month"),
    ("total_gmv", "GMV 合计", "Total GMV"),
    ("platform_gmv", "平台 GMV", "Marketplace GMV"),
    ("brand_live_stream", "品牌直播 GMV", "Brand live-stream GMV"),
    ("belt_label", "产业带", "Industry belt"),
    (
        "brand_live_stream_share",
        "品牌直播占比",
        "Brand live-stream share",
    ),
    ("industry_belt_share", "产业带占比", "Industry-belt share"),
    ("by_belt", "按产业带", "By industry belt"),
    ("by_province", "按省份", "By province"),
    ("group_belt", "产业带", "Industry belt"),
    ("group_province", "省份", "Province"),
    ("programme", "激励计划", "Programme"),
    ("status", "状态", "Status"),
    ("any", "全部", "Any"),
    ("filter", "筛选", "Filter"),
    ("search", "搜索", "Search"),
    ("period", "周期", "Period"),
    ("subject", "对象", "Subject"),
    ("value", "当前值", "Value"),
    ("projected", "预计", "Projected"),
    ("nothing_yet", "暂无数据。", "Nothing yet."),
    ("next_page", "下一页", "Next page"),
    ("display_name", "展示名", "Display name"),
    ("legal_name", "企业名称", "Legal name"),
    ("kind", "类型", "Kind"),
    ("province", "地区", "Region"),
    ("category", "类目", "Category"),
    ("brand_label", "品牌", "Brand"),
    ("contact", "联系邮箱", "Contact"),
    ("profile", "资料", "Profile"),
    ("gmv_by_channel", "分渠道 GMV", "GMV by channel"),
    (
        "gmv_chart_caption",
        "每月 GMV，按渠道。",
        "GMV by month and channel.",
    ),
    ("progress", "进度", "Progress"),
    (
        "history_chart_caption",
        "本周期累计值，与各档门槛。",
        "Value through the period against the tier thresholds.",
    ),
    ("rewards", "奖励", "Rewards"),
    ("amount", "金额", "Amount"),
    ("decisions", "审核记录", "Decisions"),
    ("when", "时间", "When"),
    ("action", "操作", "Action"),
    ("by", "操作人", "By"),
    ("reason", "理由", "Reason"),
    (
        "review_read_only",
        "你的角色只能查看；审核需要审核员或管理员角色。",
        "Your role can read this queue; deciding needs the reviewer or admin role.",
    ),
    (
        "queue_empty",
        "没有待审核的申请。",
        "No application is waiting.",
    ),
    ("decided", "已记录审核决定。", "The decision is recorded."),
    ("emails", "邮件发件箱", "Email outbox"),
    ("recipient", "收件人", "Recipient"),
    ("subject_line", "主题", "Subject"),
    ("attempts", "尝试次数", "Attempts"),
    ("last_error", "最近错误", "Last error"),
    ("webhooks", "平台 Webhook", "Platform webhooks"),
    (
        "webhooks_admin_only",
        "查看 Webhook 需要管理员角色。",
        "Webhooks need the admin role.",
    ),
    (
        "no_webhooks",
        "没有平台 Webhook 端点。",
        "No platform webhook endpoint.",
    ),
    ("endpoint_enabled", "启用", "Enabled"),
    ("endpoint_disabled", "已停用", "Disabled"),
    ("event", "事件", "Event"),
    ("response", "响应", "Response"),
    ("retry", "重试", "Retry"),
    ("retried", "已安排重试。", "The delivery will be retried."),
    ("status_achieved", "已达成", "Achieved"),
    ("status_on_track", "进展顺利", "On track"),
    ("status_at_risk", "有风险", "At risk"),
    ("status_behind", "落后", "Behind"),
    ("merchant_submitted", "待审核", "Submitted"),
    ("merchant_approved", "已通过", "Approved"),
    ("merchant_rejected", "已拒绝", "Rejected"),
    ("merchant_changes_requested", "待修改", "Changes requested"),
    ("merchant_suspended", "已暂停", "Suspended"),
    ("kind_brand", "品牌商家", "Brand"),
    ("kind_industry_belt", "产业带商家", "Industry belt"),
    ("action_approve", "通过", "Approve"),
    ("action_reject", "拒绝", "Reject"),
    ("action_request_changes", "要求修改", "Request changes"),
    ("action_suspend", "暂停", "Suspend"),
    ("action_reinstate", "恢复", "Reinstate"),
    ("action_resubmit", "重新提交", "Resubmit"),
    ("channel_live_stream", "直播", "Live stream"),
    ("channel_short_video", "短视频", "Short video"),
    ("channel_storefront", "店铺", "Storefront"),
    ("channel_other", "其他", "Other"),
    ("reward_pending", "待确认", "Pending"),
    ("reward_confirmed", "已确认", "Confirmed"),
    ("reward_cancelled", "已取消", "Cancelled"),
    ("reward_paid", "已发放", "Paid"),
    ("email_status_pending", "待发送", "Pending"),
    ("email_status_sending", "发送中", "Sending"),
    ("email_status_sent", "已发送", "Sent"),
    ("email_status_failed", "失败", "Failed"),
    ("delivery_pending", "待投递", "Pending"),
    ("delivery_sending", "投递中", "Sending"),
    ("delivery_delivered", "已投递", "Delivered"),
    ("delivery_failed", "失败", "Failed"),
    ("email_onboarding_status", "入驻状态", "Onboarding status"),
    ("email_tier_achieved", "达成档位", "Tier achieved"),
    ("email_merchant_weekly", "商家周报", "Merchant weekly"),
    ("email_staff_daily", "员工日报", "Staff daily"),
    ("email_near_tier", "接近档位", "Near a tier"),
    ("email_at_risk", "有风险", "At risk"),
    (
        "email_webhook_disabled",
        "Webhook 已停用",
        "webhook disabled",
    ),
    ("email_creator_weekly", "达人周报", "Creator weekly"),
];

/// Every word in `locale`.
pub fn words(locale: Locale) -> &'static BTreeMap<&'static str, &'static str> {
    static ZH: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
    static EN: OnceLock<BTreeMap<&str, &str>> = OnceLock::new();
    match locale {
        Locale::ZhCn => ZH.get_or_init(|| WORDS.iter().map(|(k, zh, _)| (*k, *zh)).collect()),
        Locale::En => EN.get_or_init(|| WORDS.iter().map(|(k, _, en)| (*k, *en)).collect()),
    }
}

/// One word in `locale` (`?` if it is missing, which a test rules out for enumerated values).
pub fn word(locale: Locale, key: &str) -> &'static str {
    words(locale).get(key).copied().unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::period::Status;
    use entity::enums::{
        Channel, DecisionAction, DeliveryStatus, EmailKind, EmailStatus, MerchantKind,
        MerchantStatus, RewardStatus, Role,
    };
    use sea_orm::Iterable;

    #[test]
    fn every_shown_enumerated_value_has_both_translations_and_keys_are_unique() {
        let mut keys: Vec<String> = Vec::new();
        keys.extend(Status::iter().map(|v| format!("status_{}", v.as_str())));
        keys.extend(MerchantStatus::iter().map(|v| format!("merchant_{}", v.as_str())));
        keys.extend(MerchantKind::iter().map(|v| format!("kind_{}", v.as_str())));
        keys.extend(DecisionAction::iter().map(|v| format!("action_{}", v.as_str())));
        keys.extend(Role::iter().map(|v| format!("role_{}", v.as_str())));
        keys.extend(Channel::iter().map(|v| format!("channel_{}", v.as_str())));
        keys.extend(RewardStatus::iter().map(|v| format!("reward_{}", v.as_str())));
        keys.extend(EmailStatus::iter().map(|v| format!("email_status_{}", v.as_str())));
        keys.extend(DeliveryStatus::iter().map(|v| format!("delivery_{}", v.as_str())));
        keys.extend(EmailKind::iter().map(|v| format!("email_{}", v.as_str())));
        for k in &keys {
            for l in [Locale::ZhCn, Locale::En] {
                assert!(words(l).contains_key(k.as_str()), "{k} in {l:?}");
            }
        }
        assert_eq!(words(Locale::En).len(), WORDS.len(), "no key twice");
        assert!(
            WORDS
                .iter()
                .all(|(_, zh, en)| !zh.is_empty() && !en.is_empty())
        );
    }
}
