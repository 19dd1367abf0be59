from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from e360.forms import ServiceAdminForm
from e360.models import Membership, Person, Service, Team, User, WorkerHeartbeat
from e360.services import user_trust_email


@admin.register(User)
class E360UserAdmin(UserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_active", "last_login"]

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        user_trust_email(user=obj)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["person", "team"]


class ServiceInline(admin.TabularInline):
    model = Service
    fk_name = "owner"
    extra = 0
    fields = ["name", "slug", "tier", "lifecycle"]
    show_change_link = True


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "parent"]
    list_filter = ["kind", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug", "description"]
    autocomplete_fields = ["parent"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline, ServiceInline]
    list_select_related = ["parent"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "handle", "email", "github_login", "gitlab_login", "user", "is_active"]
    list_filter = ["is_active", ("user", admin.EmptyFieldListFilter), "memberships__role", "joined_on"]
    search_fields = ["name", "handle", "email", "github_login", "gitlab_login"]
    autocomplete_fields = ["user"]
    prepopulated_fields = {"handle": ["name"]}
    inlines = [MembershipInline]
    list_select_related = ["user"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["person", "team", "role"]
    list_filter = ["role", ("team", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["person__name", "person__email", "team__name"]
    autocomplete_fields = ["person", "team"]
    list_select_related = ["person", "team"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceAdminForm
    list_display = ["name", "slug", "owner", "tier", "lifecycle"]
    list_filter = ["tier", "lifecycle", ("owner", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug", "description", "owner__name"]
    autocomplete_fields = ["owner"]
    prepopulated_fields = {"slug": ["name"]}
    list_select_related = ["owner"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
