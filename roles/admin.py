from django.contrib import admin

from roles.models import (
    Accountability,
    OrganisationSection,
    PerformanceMeasure,
    PersonSpecificationItem,
    RoleProfile,
    RoleProfileVersion,
    RoleRequirement,
    Service,
    SourceDiscrepancy,
    StaffMember,
)


class VersionInline(admin.TabularInline):
    model = RoleProfileVersion
    fields = ["number", "status", "title", "published_at"]
    extra = 0
    show_change_link = True


@admin.register(RoleProfile)
class RoleProfileAdmin(admin.ModelAdmin):
    list_display = ["slug"]
    inlines = [VersionInline]


def _inline(item_model):
    return type(f"{item_model.__name__}Inline", (admin.TabularInline,), {"model": item_model, "extra": 0})


@admin.register(RoleProfileVersion)
class RoleProfileVersionAdmin(admin.ModelAdmin):
    list_display = ["title", "number", "status", "document_date", "published_at"]
    list_filter = ["status"]
    inlines = [
        _inline(OrganisationSection),
        _inline(Accountability),
        _inline(PerformanceMeasure),
        _inline(PersonSpecificationItem),
        _inline(RoleRequirement),
        _inline(SourceDiscrepancy),
    ]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name"]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["name", "job_title", "role_profile", "service", "line_manager", "left_on"]
    list_filter = ["service", "role_profile"]
    list_select_related = ["user", "service", "line_manager__user"]
    search_fields = ["user__first_name", "user__last_name", "user__username", "user__email"]
    autocomplete_fields = ["line_manager"]
