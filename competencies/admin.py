from django.contrib import admin

from competencies.models import Competency, Indicator, Level


class LevelInline(admin.TabularInline):
    model = Level
    extra = 0
    fields = ["number", "lead", "sustained_level", "sustained_months", "rule_text"]


class IndicatorInline(admin.TabularInline):
    model = Indicator
    extra = 0


@admin.register(Competency)
class CompetencyAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "slug"]
    list_display_links = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [LevelInline]


@admin.register(Level)
class LevelAdmin(admin.ModelAdmin):
    list_display = ["competency", "number", "sustained_level", "sustained_months"]
    list_filter = ["competency"]
    list_select_related = ["competency"]
    inlines = [IndicatorInline]
