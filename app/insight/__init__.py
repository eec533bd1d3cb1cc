"""Insight for the owner: what leads asked, what the bot did, unanswered questions grouped."""

from app.insight.grouping import QuestionGroup, draft_rules, group_questions
from app.insight.report import Insights, build_insights

__all__ = ["Insights", "QuestionGroup", "build_insights", "draft_rules", "group_questions"]
