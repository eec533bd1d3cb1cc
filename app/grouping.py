"""`app.grouping.group_questions`, the entry point docs/contract.md names; it lives in
`app.insight`."""

from app.insight.grouping import QuestionGroup, draft_rule, draft_rules, group_questions

__all__ = ["QuestionGroup", "draft_rule", "draft_rules", "group_questions"]
