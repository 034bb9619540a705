from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig


class BackOfficeSite(AdminSite):
    """The Django admin as HR's back office: only HR admins may enter it."""

    site_header = "Competency appraisals: back office"
    site_title = "Back office"
    index_title = "Records"

    def has_permission(self, request):
        from roles.access import is_hr_admin

        return super().has_permission(request) and is_hr_admin(request.user)


class BackOfficeAdminConfig(AdminConfig):
    default_site = "config.admin.BackOfficeSite"
